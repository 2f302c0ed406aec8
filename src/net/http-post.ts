import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { checkLiteral, hostNotAllowedIn, lookupFor, type HostPolicy } from './address-policy.ts';

export interface PostResult {
  /** The receiver's HTTP status; null when no answer came (refused, timed out, TLS failed). */
  statusCode: number | null;
  /** Why no answer came; null when one did. Never carries the request's headers or body. */
  error: string | null;
  /** From the start of the request to the answer's status line (or the failure). */
  latencyMs: number;
}

export interface PostOptions {
  timeoutMs: number;
  /** Plain http:// as well as https://. */
  allowInsecure: boolean;
  /** Private, loopback and link-local addresses as well as public ones. */
  allowPrivateHosts: boolean;
  /** Replaces the system resolver (tests). */
  lookup?: HostPolicy['lookup'];
}

/**
 * POSTs a body and reports how the receiver answered, without following redirects (a redirect
 * could lead to an address the policy refuses). The address policy is applied to the address
 * actually connected to: an IP literal here, a name in the lookup of each connection. Never throws.
 */
export function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: PostOptions,
): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const failed = (error: string): PostResult => ({ statusCode: null, error, latencyMs: elapsed() });
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(failed('the URL is not valid'));
  }
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && options.allowInsecure)) {
    return Promise.resolve(failed('only https:// URLs are allowed'));
  }
  const policy: HostPolicy = {
    allowPrivate: options.allowPrivateHosts,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  };
  try {
    checkLiteral(target.hostname, policy);
  } catch (error) {
    return Promise.resolve(failed((error as Error).message));
  }
  const lookup = lookupFor(policy);
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        ...(lookup ? { lookup } : {}),
        // One connection per request: nothing pooled outlives the check made for it.
        agent: false,
      },
      (response) => {
        // The status is all we keep; the body is read and dropped so the socket can close.
        response.resume();
        settle({ statusCode: response.statusCode ?? null, error: null, latencyMs: elapsed() });
      },
    );
    const timer = setTimeout(() => {
      settle(failed(`no answer within ${options.timeoutMs} ms`));
      request.destroy();
    }, options.timeoutMs);
    request.on('error', (error) => settle(failed((hostNotAllowedIn(error) ?? error).message)));
    request.end(body);
  });
}
