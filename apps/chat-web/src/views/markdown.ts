/**
 * A message's text as people type it in chats, rendered: bold, italic, strike, inline code, fenced
 * code blocks, quotes, lists, links and bare URLs (markdown-it with raw HTML off), then sanitized
 * (DOMPurify) into DOM nodes. Only http, https and mailto links survive; every link opens apart
 * (`target=_blank`, `rel="noopener noreferrer"`). Images are not rendered (the page's CSP loads
 * none from elsewhere): their text stays. `@username` of a member becomes a highlighted mention
 * (the reader's own stands out). The stored text stays the raw markdown.
 * @module
 */
import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';

const SAFE_URL = /^(?:https?:|mailto:)/i;

const md = new MarkdownIt('default', {
  html: false,
  linkify: true,
  breaks: true,
  // Deeply nested input (10,000 `>` or `*`) stops nesting here instead of growing the tree.
  maxNesting: 20,
});
md.disable(['image', 'heading', 'lheading', 'table', 'hr']);
md.validateLink = (url) => SAFE_URL.test(url.trim());

const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName === 'A') {
    const href = node.getAttribute('href') ?? '';
    if (!SAFE_URL.test(href)) node.removeAttribute('href');
    else {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  }
});

const ALLOWED_TAGS = ['p', 'br', 'strong', 'em', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a'];

/** Who the reader is and which usernames are members, for mentions. */
export interface MentionContext {
  /** The reader's username (lower-case). */
  readonly me: string;
  /** Whether a (lower-case) username is a member of the room. */
  isMember(username: string): boolean;
}

/** Rendered texts, newest last: the list re-renders every message on each change. */
const rendered = new Map<string, DocumentFragment>();
const RENDERED_KEPT = 500;

/** The sanitized nodes of `text` (a fresh copy each time). */
function render(text: string): DocumentFragment {
  let fragment = rendered.get(text);
  if (fragment) rendered.delete(text);
  else {
    fragment = purifier.sanitize(md.render(text), {
      ALLOWED_TAGS,
      ALLOWED_ATTR: ['href', 'target', 'rel', 'start'],
      ALLOWED_URI_REGEXP: SAFE_URL,
      RETURN_DOM_FRAGMENT: true,
    });
    // The line breaks markdown-it writes between blocks, first and last, are not text.
    while (fragment.firstChild?.nodeType === Node.TEXT_NODE && !fragment.firstChild.nodeValue?.trim())
      fragment.firstChild.remove();
    while (fragment.lastChild?.nodeType === Node.TEXT_NODE && !fragment.lastChild.nodeValue?.trim())
      fragment.lastChild.remove();
    // A code block that scrolls sideways is reachable by keyboard.
    for (const pre of Array.from(fragment.querySelectorAll('pre'))) pre.tabIndex = 0;
    if (rendered.size >= RENDERED_KEPT) rendered.delete(rendered.keys().next().value!);
  }
  rendered.set(text, fragment);
  return fragment.cloneNode(true) as DocumentFragment;
}

/** Renders a message's text into a `message-body` element. */
export function messageBody(text: string, mentions?: MentionContext): HTMLElement {
  const body = document.createElement('div');
  body.className = 'body';
  body.dataset.testid = 'message-body';
  const fragment = render(text);
  if (mentions) markMentions(fragment, mentions);
  body.append(fragment);
  return body;
}

const MENTION = /@([a-zA-Z0-9_.-]{3,32})/g;

/** Wraps each `@username` of a member (outside code and links) in a mention. */
function markMentions(root: DocumentFragment, context: MentionContext): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement?.closest('code, pre, a') && n.nodeValue?.includes('@')) texts.push(n as Text);
  }
  for (const node of texts) {
    const value = node.nodeValue ?? '';
    const parts: Node[] = [];
    let last = 0;
    for (const match of value.matchAll(MENTION)) {
      const name = match[1]!.toLowerCase();
      if (!context.isMember(name)) continue;
      parts.push(document.createTextNode(value.slice(last, match.index)));
      const mark = document.createElement('span');
      mark.className = name === context.me ? 'mention me' : 'mention';
      mark.dataset.testid = 'mention';
      mark.textContent = match[0];
      parts.push(mark);
      last = match.index + match[0].length;
    }
    if (parts.length === 0) continue;
    parts.push(document.createTextNode(value.slice(last)));
    node.replaceWith(...parts);
  }
}
