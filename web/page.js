// Page-wide behaviour, installed once by the sources panel (gr.HTML js_on_load: `element`, `trigger` in scope).
// Citations [n], card titles and article links open the viewer; "Copy answer" copies plain text; chat messages get
// readable accessible names; on a phone the sources and viewer are a sheet over the chat (#qa-side.qa-sheet-open;
// Gradio scopes app CSS inside its container, so the class is set there, not on <body>).
if (window.__qaPage) return;
window.__qaPage = true;

const phone = () => window.matchMedia('(max-width: 768px)').matches;
const side = () => document.getElementById('qa-side');

function openSheet(top) {
  if (!phone()) return;
  side()?.classList.add('qa-sheet-open');
  if (top) side()?.scrollTo(0, 0);
  setTimeout(() => side()?.querySelector('.qa-sheet-close')?.focus({ preventScroll: true }), 60);
}
function closeSheet() {
  side()?.classList.remove('qa-sheet-open');
  const box = document.querySelector('#qa-input textarea');
  box?.scrollIntoView({ block: 'nearest' });
  box?.focus({ preventScroll: true });
}
window.qaOpenSheet = openSheet;

function legacyCopy(text) {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
  area.remove();
  return ok;
}

function copyReply(button) {
  const text = button.closest('.qa-reply')?.querySelector('.qa-plain')?.textContent.trim() || '';
  const done = (ok) => {
    button.textContent = ok ? 'Copied' : 'Copy failed: select the text instead';
    setTimeout(() => { button.textContent = 'Copy answer'; }, 2000);
  };
  // The Clipboard API needs a secure context (127.0.0.1 is one; http on a LAN address is not).
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done(true), () => done(legacyCopy(text)));
  } else {
    done(legacyCopy(text));
  }
}

document.addEventListener('click', (event) => {
  const cite = event.target.closest('a[href^="#qa-cite-"]');
  if (cite) {
    event.preventDefault();
    const m = /^#qa-cite-(\d+)-(\d+)$/.exec(cite.getAttribute('href'));
    if (m) {
      // the list may already show this reply's sources: select the one opened (the server keeps the list as it is)
      const radio = element.querySelector(`input[name="qa-source"][value="${m[1]}-${m[2]}"]`);
      if (radio) radio.checked = true;
      window.__qaReveal = true;
      trigger('click', { turn: Number(m[1]), n: Number(m[2]), from: 'chat' });
      openSheet(false);
    }
    return;
  }
  const doc = event.target.closest('a[href^="#qa-doc-"]');
  if (doc) {
    event.preventDefault();
    window.__qaReveal = true;
    trigger('click', { doc: decodeURIComponent(doc.getAttribute('href').slice('#qa-doc-'.length)) });
    openSheet(false);
    return;
  }
  const copy = event.target.closest('.qa-copy');
  if (copy) {
    copyReply(copy);
    return;
  }
  if (event.target.closest('.qa-sheet-close')) closeSheet();
});

// The sources list is one native radio group: Tab reaches it once, the arrow keys move and open.
element.addEventListener('change', (event) => {
  const radio = event.target.closest('input[name="qa-source"]');
  if (!radio) return;
  const [turn, n] = radio.value.split('-').map(Number);
  trigger('click', { turn, n, from: 'list' });
});

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && side()?.classList.contains('qa-sheet-open')) closeSheet();
});

// Gradio names each chat message by its raw content (for a reply, its HTML). Name it by what it says instead.
function spoken(message) {
  const reply = message.querySelector('.qa-reply');
  if (reply) return (reply.querySelector('.qa-spoken')?.textContent || reply.textContent).replace(/\s+/g, ' ').trim();
  const text = message.textContent.replace(/\s+/g, ' ').trim();
  return message.querySelector('.qa-question') ? 'You asked: ' + text : text;
}
let pending = false;
function nameMessages() {
  pending = false;
  document.querySelectorAll('#qa-chat [data-testid="bot"], #qa-chat [data-testid="user"]').forEach((message) => {
    const name = spoken(message);
    if (name && message.getAttribute('aria-label') !== name) message.setAttribute('aria-label', name);
  });
}
new MutationObserver(() => {
  if (!pending) { pending = true; requestAnimationFrame(nameMessages); }
}).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-label'] });
