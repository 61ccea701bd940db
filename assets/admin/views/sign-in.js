// Signing in with an administrator's email and password (the `login` mutation).
import { h, statusLine } from '../dom.js';
import { describe } from '../errors.js';
import { signIn } from '../session.js';

export function signInView(notice) {
  const status = statusLine();
  if (notice && notice !== 'Signed out.') status.fail(notice);
  const email = h('input', { type: 'email', name: 'email', id: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', id: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        status.show('Signing in…');
        try {
          await signIn(email.value.trim(), password.value);
        } catch (error) {
          password.value = '';
          status.fail(describe(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', {}, 'latchkey admin console'),
    h('p', { class: 'hint' }, 'Sign in with an administrator account.'),
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    submit,
    status.element,
  );
  queueMicrotask(() => email.focus());
  return form;
}
