/**
 * The HTML of a message as the UI shows it: someone else's markup, so it is
 *
 * 1. sanitised by DOMPurify (HTML only: no SVG or MathML; no script, event handler, javascript:
 *    link, form, frame, object, media or meta refresh survives);
 * 2. rewritten in an inert document (DOMParser: nothing in it runs or loads): remote images
 *    (`src`, `srcset`, `background`, CSS `url()` and `image-set()`) are taken out unless the person
 *    chose "Show images", `cid:` images become data: URLs of the message's own inline attachments,
 *    `@import` goes, links open in a new tab without a referrer;
 * 3. shown in an iframe whose `srcdoc` is this document and whose `sandbox` allows neither scripts
 *    nor the same origin (see MessageHtml.tsx), with a Content-Security-Policy of its own that lets
 *    no remote image load until "Show images" (so a trick the rewriting missed still loads nothing).
 */
import DOMPurify from 'dompurify';

export interface PreparedHtml {
  /** The whole document for the iframe's srcdoc. */
  srcdoc: string;
  /** Remote images (and CSS backgrounds) left out; 0 when images are shown or there are none. */
  blockedImages: number;
}

export interface PrepareOptions {
  showImages: boolean;
  /** Content-ID (without brackets) → data: URL of that inline image. */
  inlineImages: ReadonlyMap<string, string>;
}

const PURIFY_CONFIG = {
  USE_PROFILES: { html: true },
  WHOLE_DOCUMENT: true,
  FORBID_TAGS: [
    'form',
    'input',
    'button',
    'select',
    'option',
    'optgroup',
    'textarea',
    'datalist',
    'video',
    'audio',
    'source',
    'track',
    'dialog',
    'template',
  ],
  FORBID_ATTR: ['ping', 'action', 'formaction', 'srcdoc'],
  ALLOW_DATA_ATTR: false,
};

const remoteUrl = /^https?:\/\//i;
const imageDataUrl = /^data:image\/[a-z0-9.+-]+[;,]/i;

/** The policy inside the iframe: styles of the message's own, images only as the person chose. */
function policy(showImages: boolean): string {
  return [
    "default-src 'none'",
    `img-src data:${showImages ? ' http: https:' : ''}`,
    "style-src 'unsafe-inline'",
    'font-src data:',
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

const FRAME_STYLE =
  'body{margin:0;padding:12px;font:14px/1.5 system-ui,sans-serif;color:#212529;overflow-wrap:anywhere}' +
  'img{max-width:100%;height:auto}';

/** `cid:` URLs are URL-encoded Content-IDs (RFC 2392). */
function cidOf(url: string): string | null {
  if (!/^cid:/i.test(url)) return null;
  try {
    return decodeURIComponent(url.slice(4)).replace(/^<|>$/g, '');
  } catch {
    return url.slice(4);
  }
}

/** CSS escapes (`\75 rl(`, `\:`) read as the characters they stand for. */
function unescapeCss(css: string): string {
  return css
    .replace(/\\([0-9a-f]{1,6})[ \t\n\r\f]?/gi, (_, hex: string) => {
      const code = parseInt(hex, 16);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
    })
    .replace(/\\(.)/gs, '$1');
}

class Rewriter {
  blocked = 0;

  constructor(private readonly options: PrepareOptions) {}

  /** What an image URL becomes: a data: URL, the remote URL when images are shown, or null (left out). */
  image(url: string): string | null {
    const value = url.trim();
    const cid = cidOf(value);
    if (cid !== null) return this.options.inlineImages.get(cid) ?? null;
    if (imageDataUrl.test(value)) return value;
    if (remoteUrl.test(value) || value.startsWith('//')) {
      if (this.options.showImages && remoteUrl.test(value)) return value;
      this.blocked += 1;
      return null;
    }
    // Relative URLs would resolve against this application; nothing of a message points there.
    return null;
  }

  srcset(value: string): string | null {
    const candidates = value
      .split(',')
      .map((candidate) => candidate.trim())
      .filter(Boolean);
    const kept: string[] = [];
    for (const candidate of candidates) {
      const [url = '', ...descriptor] = candidate.split(/\s+/);
      const rewritten = this.image(url);
      if (rewritten !== null) kept.push([rewritten, ...descriptor].join(' '));
    }
    return kept.length > 0 ? kept.join(', ') : null;
  }

  /** A style sheet or style attribute with its remote references taken out (or kept, when shown). */
  css(css: string): string {
    let text = css.replace(/\/\*[\s\S]*?\*\//g, '');
    if (text.includes('\\')) text = unescapeCss(text);
    text = text.replace(/@import\b[^;]*;?/gi, '');
    text = text.replace(/url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*?))\s*\)/gi, (_whole, dq, sq, bare) => {
      const target = String(dq ?? sq ?? bare ?? '');
      const rewritten = this.image(target);
      return rewritten === null ? 'none' : `url("${rewritten.replace(/["\\\n\r]/g, '')}")`;
    });
    // image-set() takes bare strings as well as url(): kept only when every one is absolute.
    text = text.replace(/(?:-webkit-)?image-set\((?:[^()]|\([^()]*\))*\)/gi, (whole) => {
      const targets = [...whole.matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2] ?? '');
      const absolute = (target: string) => remoteUrl.test(target) || imageDataUrl.test(target);
      if (this.options.showImages && targets.length > 0 && targets.every(absolute)) return whole;
      if (targets.some((target) => remoteUrl.test(target) || target.startsWith('//'))) this.blocked += 1;
      return 'none';
    });
    // Whatever still names another host (a function the rules above do not know) goes whole.
    const probe = text.replace(/url\("data:[^"]*"\)/gi, '');
    if (!this.options.showImages && /(?:https?:)?\/\//i.test(probe)) {
      this.blocked += 1;
      return '';
    }
    // A `<` could end a <style> element once the document is written out again.
    return text.replace(/</g, '\\3c ');
  }

  element(element: Element): void {
    for (const name of ['src', 'background', 'poster']) {
      const value = element.getAttribute(name);
      if (value === null) continue;
      const rewritten = this.image(value);
      if (rewritten === null) element.removeAttribute(name);
      else element.setAttribute(name, rewritten);
    }
    const srcset = element.getAttribute('srcset');
    if (srcset !== null) {
      const rewritten = this.srcset(srcset);
      if (rewritten === null) element.removeAttribute('srcset');
      else element.setAttribute('srcset', rewritten);
    }
    const style = element.getAttribute('style');
    if (style !== null) element.setAttribute('style', this.css(style));
    if (element.tagName === 'STYLE') element.textContent = this.css(element.textContent ?? '');
    if (element.tagName === 'A' || element.tagName === 'AREA') {
      const href = element.getAttribute('href');
      if (href !== null && !/^(?:https?:|mailto:|tel:)/i.test(href.trim())) element.removeAttribute('href');
      element.setAttribute('target', '_blank');
      element.setAttribute('rel', 'noopener noreferrer');
    }
  }
}

/** The message's HTML, sanitised and rewritten, as the srcdoc of a sandboxed iframe. */
export function prepareMailHtml(html: string, options: PrepareOptions): PreparedHtml {
  const clean = DOMPurify.sanitize(html, PURIFY_CONFIG);
  const doc = new DOMParser().parseFromString(clean, 'text/html');
  const rewriter = new Rewriter(options);
  for (const element of Array.from(doc.querySelectorAll('*'))) rewriter.element(element);
  // The message's own style sheets (usually in its head) go first in the body of ours.
  const styles = Array.from(doc.head.querySelectorAll('style'))
    .map((style) => style.outerHTML)
    .join('');
  const srcdoc =
    '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${policy(options.showImages)}">` +
    '<meta name="referrer" content="no-referrer"><base target="_blank">' +
    `<style>${FRAME_STYLE}</style></head><body>${styles}${doc.body.innerHTML}</body></html>`;
  return { srcdoc, blockedImages: rewriter.blocked };
}

/** Whether the HTML names inline images (cid:), which the view fetches before it shows the message. */
export const namesInlineImages = (html: string): boolean => /cid:/i.test(html);
