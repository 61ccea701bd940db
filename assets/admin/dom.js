// Building DOM nodes without HTML strings: text is always set as text, never parsed, so a
// user's name holding markup shows as typed.

/**
 * h('button', { class: 'primary', onclick: save }, 'Save')
 * Props: `class`, `on<event>` handlers, `dataset`, boolean and string attributes; children are
 * nodes, strings, numbers, arrays of them, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      element.className = value;
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces everything inside `parent` with `children`. */
export function mount(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

/** A date as the browser's locale writes it, or a dash. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/**
 * A status line: `show(text)` for success, `fail(error)` for a failure, `clear()`.
 * Failures carry `role="alert"` so they are announced and easy to find in tests.
 */
export function statusLine() {
  const element = h('p', { class: 'status', 'aria-live': 'polite' });
  return {
    element,
    show(text) {
      element.className = 'status ok';
      element.removeAttribute('role');
      element.textContent = text;
    },
    fail(text) {
      element.className = 'status error';
      element.setAttribute('role', 'alert');
      element.textContent = text;
    },
    clear() {
      element.className = 'status';
      element.removeAttribute('role');
      element.textContent = '';
    },
  };
}
