// Creating a user, with a password or without one (latchkey then mails an invitation to
// choose it).
import { h, statusLine } from '../dom.js';
import { describe } from '../errors.js';
import { CREATE_USER, ORGANIZATIONS, ROLES } from '../operations.js';
import { go } from '../router.js';
import { call, isSuperadmin } from '../session.js';

export function newUserView() {
  const status = statusLine();
  const email = h('input', { type: 'email', id: 'new-email', required: true, autocomplete: 'off' });
  const name = h('input', { type: 'text', id: 'new-name', autocomplete: 'off' });
  const password = h('input', { type: 'password', id: 'new-password', autocomplete: 'new-password' });
  const active = h('input', { type: 'checkbox', id: 'new-active', checked: true });
  const verified = h('input', { type: 'checkbox', id: 'new-verified' });
  const roleBoxes = h('div', { class: 'checks', id: 'new-roles' });
  const organization = h('select', { id: 'new-organization' }, h('option', { value: '' }, 'My organization'));

  call(ROLES)
    .then(({ roles }) =>
      roleBoxes.append(
        ...roles.map((role) =>
          h('label', { class: 'check' }, h('input', { type: 'checkbox', value: role.code }), ` ${role.name} (${role.code})`),
        ),
      ),
    )
    .catch((error) => status.fail(describe(error)));
  if (isSuperadmin()) {
    call(ORGANIZATIONS, { first: 100 })
      .then(({ organizations }) => organization.append(...organizations.nodes.map((org) => h('option', { value: org.id }, org.name))))
      .catch((error) => status.fail(describe(error)));
  }

  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create user');
  const form = h(
    'form',
    {
      class: 'card form',
      onsubmit: async (event) => {
        event.preventDefault();
        const input = {
          email: email.value.trim(),
          name: name.value.trim() || null,
          password: password.value || null,
          active: active.checked,
          emailVerified: verified.checked,
          roles: [...roleBoxes.querySelectorAll('input:checked')].map((box) => box.value),
        };
        if (organization.value) input.organizationId = organization.value;
        submit.disabled = true;
        status.show('Creating…');
        try {
          const { createUser } = await call(CREATE_USER, { input });
          go(`#/users/${createUser.id}`);
        } catch (error) {
          status.fail(describe(error));
          submit.disabled = false;
        }
      },
    },
    h('label', { for: 'new-email' }, 'Email'),
    email,
    h('label', { for: 'new-name' }, 'Name (optional)'),
    name,
    h('label', { for: 'new-password' }, 'Password'),
    password,
    h('p', { class: 'hint' }, 'Leave the password empty to mail an invitation with a link to choose one.'),
    h('span', { class: 'label' }, 'Roles'),
    roleBoxes,
    h('label', { class: 'check' }, active, ' Active'),
    h('label', { class: 'check' }, verified, ' Email address already verified'),
    isSuperadmin() ? [h('label', { for: 'new-organization' }, 'Organization'), organization] : null,
    submit,
    status.element,
  );
  return h('section', {}, h('a', { href: '#/users', class: 'back' }, '← Users'), h('h1', {}, 'New user'), form);
}
