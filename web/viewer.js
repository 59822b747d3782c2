// The source viewer (gr.HTML js_on_load): after each render, scroll the article box (not the page) to the cited
// passage; when the reader asked for this source, also bring the viewer itself into view.
watch('value', () => {
  const box = element.querySelector('.qa-article-body');
  const mark = element.querySelector('.qa-cited');
  if (box) {
    if (mark) {
      const offset = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTop += offset - box.clientHeight / 4;
    } else {
      box.scrollTop = 0;
    }
  }
  if (window.__qaReveal) {
    window.__qaReveal = false;
    if (window.matchMedia('(max-width: 768px)').matches) {
      // phone: the viewer is in a sheet that scrolls as a whole; once it has slid in, bring the passage to its middle
      setTimeout(() => (mark || element).scrollIntoView({ block: mark ? 'center' : 'start' }), 260);
    } else {
      const top = element.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight - 120) element.scrollIntoView({ block: 'start' });
    }
  }
});
