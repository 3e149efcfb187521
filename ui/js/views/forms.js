// Saved forms: the list (`#/forms`) and one form (`#/form/<id>`). A form's
// HTML comes from the host already rendered with the user's values (every
// value escaped there); it is parsed inert here (by DOMParser, no markup
// assigned), kept to the elements and attributes a form template may use
// (the host refuses the rest when it reads the template), and its controls
// get lists of the meters, modules and channels the user may see.
// Submitting sends the values as JSON (with the session's CSRF token): a
// refused value is shown beside its field in the user's language; a manual
// reading links to its meter; an inspection note joins the subject's notes
// under the form.

import { ApiError, get, post, segment } from '../api.js';
import { channelName, unitName } from '../channels.js';
import { append, clear, el } from '../dom.js';
import { formatTime, formatValue } from '../format.js';
import { language, t } from '../i18n.js';
import { meterHash } from '../router.js';

/** The elements and attributes a form template may use (as the host checks them). */
const ELEMENTS = new Set([
  'form', 'fieldset', 'legend', 'label', 'input', 'select', 'option', 'optgroup', 'textarea', 'button', 'output',
  'datalist', 'p', 'div', 'span', 'br', 'hr', 'h2', 'h3', 'h4', 'small', 'strong', 'em', 'b', 'i', 'ul', 'ol', 'li',
  'dl', 'dt', 'dd', 'table', 'caption', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td',
]);
const ATTRIBUTES = new Set([
  'name', 'type', 'value', 'required', 'min', 'max', 'step', 'minlength', 'maxlength', 'placeholder', 'checked',
  'selected', 'disabled', 'readonly', 'for', 'id', 'class', 'title', 'rows', 'cols', 'size', 'autocomplete', 'lang',
  'colspan', 'rowspan', 'list', 'role', 'inputmode', 'label',
]);

/** The lang query of the current language. */
function lang() {
  return language() === 'en' ? 'en' : 'ru';
}

/**
 * `html` as nodes: parsed inert (a document of DOMParser's has no browsing
 * context: it runs no script and loads nothing), every element and
 * attribute outside the template language dropped, then adopted here.
 */
export function inertForm(html) {
  const parsed = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
  const walk = (node) => {
    for (const child of [...node.children]) {
      if (!ELEMENTS.has(child.localName)) {
        child.remove();
        continue;
      }
      for (const attribute of [...child.attributes]) {
        const name = attribute.name;
        if (!ATTRIBUTES.has(name) && !name.startsWith('data-') && !name.startsWith('aria-')) {
          child.removeAttribute(name);
        }
      }
      walk(child);
    }
  };
  walk(parsed.body);
  const nodes = document.createDocumentFragment();
  for (const node of [...parsed.body.childNodes]) nodes.append(document.adoptNode(node));
  return nodes;
}

/** What a form does, in words. */
function actionName(form) {
  return t(`forms.action.${form.action}`, {}, form.action);
}

/** The list of forms. */
export function formsView(container) {
  let stopped = false;
  const page = el('section', { className: 'forms' }, el('h2', {}, t('forms.title')));
  const status = el('p', { className: 'forms-status' }, t('forms.loading'));
  append(page, [status]);
  container.append(page);
  get('/api/v1/forms', { lang: lang() })
    .then((answer) => {
      if (stopped) return;
      status.remove();
      const list = el('ul', { className: 'forms-list', id: 'forms-list' });
      for (const form of answer.forms) {
        const errors = form.errors.length
          ? el('ul', { className: 'form-errors' }, form.errors.map((e) => el('li', { className: 'mono' }, e)))
          : null;
        list.append(
          el(
            'li',
            { dataset: { form: form.id } },
            el('a', { href: `#/form/${segment(form.id)}`, className: 'form-link' }, form.title || form.id),
            el(
              'div',
              { className: 'form-meta' },
              [
                actionName(form),
                // Whose values: only of a form that keeps them (one that acts keeps only what it was about).
                form.action === 'save' ? t(`forms.scope.${form.scope}`) : null,
                form.origin === 'shipped' ? t('forms.shipped') : form.files.join(', '),
              ].filter(Boolean).join(' · '),
              form.may_submit ? null : ` · ${t('forms.read_only')}`,
            ),
            errors,
          ),
        );
      }
      append(page, [list, el('p', { className: 'forms-folder' }, t('forms.folder', { dir: answer.folder }))]);
    })
    .catch((e) => {
      if (!stopped) status.textContent = e.message;
    });
  return () => {
    stopped = true;
  };
}

/** One form, filled in and submitted. `tree` gives the meters the user may see. */
export function formView(container, params, tree) {
  const page = new FormPage(container, params.id, tree);
  page.load();
  return () => page.stop();
}

class FormPage {
  constructor(container, id, tree) {
    this.container = container;
    this.id = id;
    this.tree = tree;
    this.stopped = false;
    this.form = null;
  }

  stop() {
    this.stopped = true;
  }

  async load() {
    const page = el('section', { className: 'form-page', id: 'form-page' });
    this.container.append(page);
    let form;
    try {
      form = await get(`/api/v1/forms/${segment(this.id)}`, { lang: lang() });
    } catch (e) {
      append(page, [el('p', { className: 'error' }, e.message)]);
      return;
    }
    if (this.stopped) return;
    this.form = form;
    const saved = form.saved_at_ms
      ? t('forms.saved_at', { when: formatTime(form.saved_at_ms), who: form.saved_by ?? '' })
      : t('forms.never_saved');
    append(page, [
      el('p', { className: 'crumbs' }, el('a', { href: '#/forms' }, t('forms.title')), ' / ', form.title),
      el('h2', {}, form.title || form.id),
      (this.savedLine = el('p', { className: 'form-saved', id: 'form-saved' }, saved)),
      form.errors.length ? el('ul', { className: 'form-errors' }, form.errors.map((e) => el('li', { className: 'mono' }, e))) : null,
    ]);
    const body = el('div', { className: 'form-body', id: 'form-body' });
    body.append(inertForm(form.html));
    page.append(body);
    this.node = body.querySelector('form');
    this.result = el('p', { className: 'form-result', id: 'form-result', attrs: { role: 'status', 'aria-live': 'polite' } });
    page.append(this.result);
    if (!this.node) return;
    this.node.id = 'user-form';
    this.lists(body);
    if (!form.may_submit) {
      for (const control of this.node.elements) control.disabled = true;
      this.result.textContent = t('forms.read_only_note');
    }
    this.node.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    if (form.action === 'inspection-note') {
      this.notes = el('div', { className: 'form-notes', id: 'form-notes' });
      page.append(this.notes);
      this.showNotes();
    }
  }

  /** Datalists of the meters, modules and channels the user may see for the form's reference fields. */
  lists(body) {
    const meters = this.tree.meters ?? [];
    const modules = [...new Set(meters.map((m) => m.module).filter(Boolean))];
    const option = (value, label) => el('option', { value }, label);
    const meterOptions = () => meters.map((m) => option(m.id, m.metadata?.name ? `${m.metadata.name}` : m.id));
    const kinds = {
      meter: meterOptions,
      module: () => modules.map((id) => option(id, id)),
      subject: () => [...meterOptions(), ...modules.map((id) => option(id, t('forms.module', { id })))],
    };
    for (const field of this.form.fields.filter((f) => f.type === 'ref')) {
      const input = this.node.elements.namedItem(field.name);
      if (!input || !(input instanceof HTMLInputElement)) continue;
      const list = el('datalist', { id: `form-list-${field.name}` });
      input.setAttribute('list', list.id);
      input.autocomplete = 'off';
      body.append(list);
      if (field.of === 'channel') {
        this.channelList = { list, input };
        continue;
      }
      append(list, [kinds[field.of]()]);
      input.addEventListener('input', () => this.meterChosen());
    }
    // The unit in the value's label: «Показание (м³)».
    this.unit = el('span', { className: 'form-unit', id: 'form-unit' });
    const value = this.node.elements.namedItem('value');
    if (value instanceof HTMLInputElement) {
      const label = value.closest('label');
      const caption = [...(label?.childNodes ?? [])].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
      if (caption) caption.replaceWith(el('span', {}, caption.textContent.trim(), ' ', this.unit));
      else value.before(this.unit);
    }
    this.channelList?.input.addEventListener('input', () => this.showUnit());
    this.meterChosen();
  }

  /** The meter the form names now, if the user may see it. */
  meter() {
    const input = this.node.elements.namedItem('meter') ?? this.node.elements.namedItem('subject');
    return input instanceof HTMLInputElement ? this.tree.meter(input.value.trim()) : undefined;
  }

  meterChosen() {
    if (this.channelList) {
      const meter = this.meter();
      const channels = Object.keys(meter?.channels ?? {});
      clear(this.channelList.list);
      append(this.channelList.list, [channels.map((c) => el('option', { value: c }, channelName(c)))]);
      // One channel: nothing to choose.
      if (channels.length === 1 && !this.channelList.input.value) this.channelList.input.value = channels[0];
    }
    this.showUnit();
    if (this.notes) this.showNotes();
  }

  showUnit() {
    if (!this.unit) return;
    const channel = this.channelList?.input.value.trim();
    const unit = this.meter()?.channels?.[channel]?.unit;
    this.unit.textContent = unit ? `(${unitName(unit)})` : '';
    this.unit.dataset.unit = unit ? unitName(unit) : '';
  }

  values() {
    const values = {};
    for (const field of this.form.fields) values[field.name] = '';
    for (const [name, value] of new FormData(this.node)) values[name] = String(value);
    return values;
  }

  clearProblems() {
    for (const node of this.node.querySelectorAll('.field-problem')) node.remove();
    for (const node of this.node.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
  }

  /** A refused value beside its field, in the user's language. */
  problemText(problem) {
    const limit = problem.limit ?? '';
    return t(`forms.problem.${problem.code}`, { limit }, problem.message);
  }

  async submit() {
    this.clearProblems();
    const button = this.node.querySelector('button[type="submit"], button:not([type])');
    if (button) button.disabled = true;
    this.result.className = 'form-result';
    this.result.textContent = t('forms.sending');
    try {
      const answer = await post(`/api/v1/forms/${segment(this.id)}?lang=${lang()}`, { values: this.values() });
      this.done(answer);
    } catch (e) {
      this.result.className = 'form-result error';
      if (e instanceof ApiError && e.status === 422 && Array.isArray(e.body?.problems)) {
        this.result.textContent = t('forms.refused');
        for (const p of e.body.problems) {
          const control = this.node.elements.namedItem(p.field);
          const anchor = control instanceof RadioNodeList ? control[control.length - 1] : control;
          const text = el('span', { className: 'field-problem', dataset: { field: p.field, code: p.code } }, this.problemText(p));
          if (anchor) {
            anchor.setAttribute('aria-invalid', 'true');
            anchor.after(text);
          } else {
            this.result.append(' ', text);
          }
        }
      } else {
        this.result.textContent = e.message;
      }
    } finally {
      if (button) button.disabled = false;
    }
  }

  done(answer) {
    this.result.className = 'form-result ok';
    clear(this.result);
    this.savedLine.textContent = t('forms.saved_at', {
      when: formatTime(answer.saved_at_ms),
      who: answer.saved_by,
    });
    if (answer.reading) {
      const r = answer.reading;
      append(this.result, [
        t('forms.reading_entered', { seq: r.journal_seq, value: formatValue(r.value), unit: unitName(r.unit) }),
        ' ',
        el('a', { href: meterHash(r.meter), id: 'form-reading-meter' }, this.tree.meter(r.meter)?.metadata?.name ?? r.meter),
      ]);
      // The next reading starts from the same meter and channel.
      for (const name of ['value', 'note']) {
        const control = this.node.elements.namedItem(name);
        if (control) control.value = '';
      }
    } else if (answer.note) {
      this.result.textContent = t('forms.note_saved', { id: answer.note.id });
      const text = this.node.elements.namedItem('text');
      if (text) text.value = '';
      this.showNotes();
    } else {
      this.result.textContent = t('forms.saved');
    }
  }

  async showNotes() {
    const input = this.node?.elements.namedItem('subject');
    const subject = input instanceof HTMLInputElement ? input.value.trim() : '';
    const params = subject ? { subject, limit: 50 } : { limit: 50 };
    let answer;
    try {
      answer = await get('/api/v1/notes', params);
    } catch (e) {
      clear(this.notes).append(el('p', { className: 'error' }, e.message));
      return;
    }
    if (this.stopped) return;
    clear(this.notes);
    this.notes.append(el('h3', {}, subject ? t('forms.notes_of', { subject }) : t('forms.notes_recent')));
    if (!answer.notes.length) {
      this.notes.append(el('p', { className: 'muted' }, t('forms.no_notes')));
      return;
    }
    const list = el('ul', { className: 'notes-list' });
    for (const note of answer.notes) {
      const condition = this.node.querySelector(`select[name="condition"] option[value="${CSS.escape(note.values.condition ?? '')}"]`);
      list.append(
        el(
          'li',
          { dataset: { note: String(note.id) } },
          el('div', { className: 'note-head' }, `№ ${note.id} · ${formatTime(note.at_ms)} · ${note.user} · ${note.subject}`,
            condition ? ` · ${condition.textContent}` : ''),
          el('div', { className: 'note-text' }, note.values.text ?? ''),
        ),
      );
    }
    this.notes.append(list);
  }
}
