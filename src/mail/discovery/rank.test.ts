import { describe, expect, it } from 'vitest';
import { judge, rankCandidates } from './rank.ts';
import type { CandidateEvidence, DiscoverySource, ProbeVerdict } from './types.ts';

type Sketch = Partial<CandidateEvidence> & { priority?: number; weight?: number };

function candidate(sketch: Sketch & { source?: DiscoverySource }): CandidateEvidence & Sketch {
  const { source = 'srv', ...rest } = sketch;
  return {
    direction: 'incoming',
    protocol: 'imap',
    host: 'imap.example.com',
    port: 993,
    security: 'tls',
    url: null,
    username: null,
    spa: false,
    requiresAuth: true,
    sources: [{ source, via: 'x' }],
    result: 'reachable',
    reply: null,
    steps: [],
    ms: 10,
    rank: 0,
    chosen: false,
    ...rest,
  };
}

const order = (...candidates: (CandidateEvidence & Sketch)[]) =>
  rankCandidates(candidates).map((c) => `${c.protocol}:${c.port}:${c.result}`);

describe('ranking', () => {
  it('puts a working login first, whatever the security', () => {
    expect(
      order(
        candidate({ port: 993, security: 'tls', result: 'login_failed' }),
        candidate({ port: 143, security: 'starttls', result: 'login_ok' }),
      ),
    ).toEqual(['imap:143:login_ok', 'imap:993:login_failed']);
  });

  it('then TLS over STARTTLS over plain text', () => {
    expect(
      order(
        candidate({ port: 143, security: 'none' }),
        candidate({ port: 144, security: 'starttls' }),
        candidate({ port: 993, security: 'tls' }),
      ),
    ).toEqual(['imap:993:reachable', 'imap:144:reachable', 'imap:143:reachable']);
  });

  it('prefers IMAP to JMAP to POP3 while encrypted, but never plain text over encryption', () => {
    expect(
      order(
        candidate({ protocol: 'pop3', port: 995 }),
        candidate({ protocol: 'jmap', port: 443 }),
        candidate({ protocol: 'imap', port: 143, security: 'starttls' }),
        candidate({ protocol: 'imap', port: 144, security: 'none' }),
      ),
    ).toEqual(['imap:143:reachable', 'jmap:443:reachable', 'pop3:995:reachable', 'imap:144:reachable']);
  });

  it('then the more trusted source, then SRV priority and weight', () => {
    expect(
      order(
        candidate({ port: 1, source: 'guess' }),
        candidate({ port: 2, source: 'ispdb' }),
        candidate({ port: 3, source: 'autoconfig' }),
      ),
    ).toEqual(['imap:3:reachable', 'imap:2:reachable', 'imap:1:reachable']);
    expect(
      order(
        candidate({ port: 1, priority: 20, weight: 100 }),
        candidate({ port: 2, priority: 10, weight: 1 }),
        candidate({ port: 3, priority: 10, weight: 50 }),
      ),
    ).toEqual(['imap:3:reachable', 'imap:2:reachable', 'imap:1:reachable']);
  });

  it('answers that did not work go last, and a refused server is never chosen', () => {
    const verdicts: ProbeVerdict[] = ['refused', 'unreachable', 'tls_failed', 'reachable'];
    const ranked = rankCandidates(verdicts.map((result, i) => candidate({ port: i + 1, result })));
    expect(ranked.map((c) => c.result)).toEqual(['reachable', 'tls_failed', 'unreachable', 'refused']);
    const onlyRefused = rankCandidates([candidate({ result: 'refused' })]);
    expect(onlyRefused[0]?.chosen).toBe(false);
  });
});

describe('confidence', () => {
  const both = (
    incoming: Sketch & { source?: DiscoverySource },
    outgoing: Sketch & { source?: DiscoverySource },
  ) =>
    rankCandidates([
      candidate(incoming),
      candidate({ direction: 'outgoing', protocol: 'smtp', port: 465, ...outgoing }),
    ]);

  it('is high when both logins worked', () => {
    expect(judge(both({ result: 'login_ok' }, { result: 'login_ok' }), true, false).confidence).toBe('high');
  });

  it('is high without a password when the domain named servers that answered over TLS', () => {
    expect(judge(both({}, {}), false, false).confidence).toBe('high');
  });

  it('is medium for a refused login, a guess, a missing incoming server or a deadline', () => {
    expect(judge(both({ result: 'login_failed' }, { result: 'login_ok' }), true, false).confidence).toBe(
      'medium',
    );
    expect(judge(both({ source: 'guess' }, {}), false, false).confidence).toBe('medium');
    const outgoingOnly = rankCandidates([
      candidate({ direction: 'outgoing', protocol: 'smtp', result: 'login_ok' }),
    ]);
    expect(judge(outgoingOnly, true, false).confidence).toBe('medium');
    expect(judge(both({ result: 'login_ok' }, { result: 'login_ok' }), true, true).confidence).toBe('medium');
  });

  it('is low when nothing could be verified, and none without an outgoing server', () => {
    expect(judge(both({ result: 'timeout' }, { result: 'unreachable' }), true, false).confidence).toBe('low');
    const { confidence, reasons } = judge([candidate({ result: 'login_ok' })], true, false);
    expect(confidence).toBe('none');
    expect(reasons[0]).toBe('Outgoing: no server found.');
  });
});
