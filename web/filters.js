// The filters form (gr.HTML js_on_load). Dates are checked as they are entered: a date that is not YYYY-MM-DD, or an
// "until" before "since", gets an error under its field and nothing is applied. A valid change asks the last
// question again (trigger('submit')). The calendar opens in the articles' own date range.
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const LABELS = { since: 'Published since', until: 'Published until' };

function isDate(text) {
  const m = DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

const field = (name) => element.querySelector(`#qa-${name}-text`);

function read() {
  return {
    publisher: element.querySelector('#qa-publisher-select')?.value || '',
    since: (field('since')?.value || '').trim(),
    until: (field('until')?.value || '').trim(),
  };
}
window.qaFilters = read;

function check() {
  const f = read();
  let ok = true;
  for (const name of ['since', 'until']) {
    let message = '';
    if (f[name] && !isDate(f[name])) {
      message = `“${f[name]}” is not a date. Type it as YYYY-MM-DD (e.g. 2022-04-01) or pick it on the calendar. Not applied.`;
    } else if (name === 'until' && isDate(f.since) && isDate(f.until) && f.until < f.since) {
      message = `${LABELS.until} is before ${LABELS.since.toLowerCase()}: swap the dates or widen the range. Not applied.`;
    }
    const input = field(name);
    const error = element.querySelector(`#qa-${name}-error`);
    if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
    if (error) error.textContent = message;
    ok = ok && !message;
  }
  return ok;
}

let applied = JSON.stringify({ publisher: '', since: '', until: '' });
function changed() {
  if (!check()) return;
  const now = JSON.stringify(read());
  if (now === applied) return;
  applied = now;
  trigger('submit');
}

element.addEventListener('change', (event) => {
  if (event.target.matches('.qa-cal-input')) {
    const input = element.querySelector('#' + event.target.dataset.for);
    if (input && event.target.value) input.value = event.target.value;
  }
  changed();
});

element.addEventListener('click', (event) => {
  const calendar = event.target.closest('.qa-cal');
  if (calendar) {
    const picker = calendar.parentElement.querySelector('.qa-cal-input');
    const typed = (element.querySelector('#' + calendar.dataset.for)?.value || '').trim();
    // The picker opens on its value's month: the typed date, else the first (since) or last (until) article's.
    picker.value = isDate(typed) ? typed : calendar.dataset.start || '';
    try { picker.showPicker(); } catch (err) { picker.focus(); }
    return;
  }
  if (event.target.closest('.qa-filters-clear')) {
    element.querySelectorAll('input[type="text"]').forEach((input) => { input.value = ''; });
    const select = element.querySelector('#qa-publisher-select');
    if (select) select.value = '';
    changed();
  }
});
