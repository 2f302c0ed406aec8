import { firstHeader } from './mime.ts';
import type { Headers } from './mime.ts';
import { normaliseDiagnostic, readsLikeVacation } from './reason-text.ts';

const AUTO_SUBJECT =
  /^(?:(?:re|aw|fw|fwd):[ \t]{0,4})?(?:auto(?:matic|matische)?[ _-]?(?:reply|response|respons|answer|antwort|reponse|réponse)|autoreply|auto:|out of (?:the )?office|ooo\b|away from|on vacation|vacation|abwesenheit|absence|réponse automatique|respuesta automática|risposta automatica|自動応答|自動返信)/i;

/**
 * RFC 3834 marks a reply made by software with `Auto-Submitted: auto-replied`; older responders use
 * X-Autoreply, X-Autorespond or `Precedence: auto_reply`; Exchange's out-of-office sets
 * X-Auto-Response-Suppress. Any of those, or a subject or text that reads like one, counts.
 * Callers ask this only once they know the message is not a failure notice.
 */
export function isAutoReply(headers: Headers, subject: string, text: string): boolean {
  const submitted = (firstHeader(headers, 'auto-submitted') ?? '').toLowerCase();
  if (submitted.startsWith('auto-replied')) return true;
  if (headers.has('x-autoreply') || headers.has('x-autorespond') || headers.has('x-autoresponder'))
    return true;
  if ((firstHeader(headers, 'precedence') ?? '').toLowerCase().includes('auto_reply')) return true;
  if (AUTO_SUBJECT.test(subject.trim())) return true;
  const automated = submitted.startsWith('auto-') || headers.has('x-auto-response-suppress');
  return automated && readsLikeVacation(normaliseDiagnostic(text.slice(0, 4096)));
}
