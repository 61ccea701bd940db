// One user: roles (grant, remove), active and verified flags, ending their sessions, their
// recent security events, and deletion confirmed by typing the email.
import { h, mount, statusLine, when } from '../dom.js';
import { describe } from '../errors.js';
import { DELETE_USER, REVOKE_USER_SESSIONS, ROLES, UPDATE_USER, USER } from '../operations.js';
import { go } from '../router.js';
import { call } from '../session.js';
import { securityEvents } from './security-events.js';

export function userView(id) {
  const element = h('section', { class: 'user' }, h('p', { class: 'loading' }, 'Loading…'));
  Promise.all([call(USER, { id }), call(ROLES)])
    .then(([{ user }, { roles }]) => {
      if (!user) {
        mount(element, back(), h('p', { class: 'status error', role: 'alert' }, 'NOT_FOUND: no such user within your reach.'));
        return;
      }
      draw(element, user, roles);
    })
    .catch((error) => mount(element, back(), h('p', { class: 'status error', role: 'alert' }, describe(error))));
  return element;
}

const back = () => h('a', { href: '#/users', class: 'back' }, '← Users');

function draw(element, user, roles, notice = '') {
  const status = statusLine();
  if (notice) status.show(notice);

  /** Runs a change and redraws with the user it answers and what it did, or shows the API's
   * error and leaves everything as it was. */
  const change = async (button, action) => {
    button.disabled = true;
    status.show('Saving…');
    try {
      const done = await action();
      draw(element, done.user ?? user, roles, done.notice);
    } catch (error) {
      status.fail(describe(error));
      button.disabled = false;
    }
  };
  const update = (input, notice) => async () => ({ user: (await call(UPDATE_USER, { id: user.id, input })).updateUser, notice });
  const button = (id, label, action, className = '') => {
    const element = h('button', { type: 'button', id, class: className }, label);
    element.onclick = () => change(element, action);
    return element;
  };

  const activeButton = user.active
    ? button('toggle-active', 'Deactivate', update({ active: false }, 'Deactivated: every session of the account ended.'), 'danger')
    : button('toggle-active', 'Activate', update({ active: true }, 'Activated.'));
  const verifiedButton = user.emailVerified
    ? button('toggle-verified', 'Mark unverified', update({ emailVerified: false }, 'Marked unverified.'))
    : button('toggle-verified', 'Mark verified', update({ emailVerified: true }, 'Marked verified.'));

  const roleChips = user.roles.map((code) => {
    const remove = button(
      `remove-role-${code}`,
      '×',
      update({ roles: user.roles.filter((held) => held !== code) }, `Removed ${code}: the account's sessions ended.`),
      'chip-remove',
    );
    remove.setAttribute('aria-label', `Remove role ${code}`);
    remove.title = `Remove ${code}`;
    return h('span', { class: 'chip' }, code, remove);
  });
  const grantable = roles.filter((role) => !user.roles.includes(role.code));
  const grantSelect = h(
    'select',
    { id: 'grant-role', 'aria-label': 'Role to grant' },
    grantable.map((role) => h('option', { value: role.code }, `${role.name} (${role.code})`)),
  );
  const grantButton = button('grant-button', 'Grant', () =>
    update({ roles: [...user.roles, grantSelect.value] }, `Granted ${grantSelect.value}: it reaches access tokens at the next refresh.`)(),
  );
  grantButton.disabled = grantable.length === 0;

  const revokeButton = button('revoke-sessions', 'End all sessions', async () => {
    const { revokeUserSessions: ended } = await call(REVOKE_USER_SESSIONS, { id: user.id });
    return { notice: `${ended} live session${ended === 1 ? '' : 's'} ended.` };
  });

  mount(
    element,
    back(),
    h(
      'div',
      { class: 'title-row' },
      h('h1', {}, user.email),
      user.active ? h('span', { class: 'state on', id: 'active-state' }, 'active') : h('span', { class: 'state off', id: 'active-state' }, 'inactive'),
      h('span', { class: user.emailVerified ? 'state on' : 'state warn', id: 'verified-state' }, user.emailVerified ? 'verified' : 'unverified'),
    ),
    status.element,
    h(
      'div',
      { class: 'grid' },
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Account'),
        h(
          'dl',
          {},
          fact('Name', user.name ?? '—'),
          fact('Organization', user.organization.name),
          fact('Pending email', user.pendingEmail ?? '—'),
          fact('Last sign-in', when(user.lastLoginAt)),
          fact('Created', when(user.createdAt)),
          fact('Changed', when(user.updatedAt)),
          fact('Id', h('code', {}, user.id)),
        ),
        h('div', { class: 'actions' }, activeButton, verifiedButton),
      ),
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Roles'),
        h('div', { class: 'chips', id: 'user-roles' }, roleChips.length ? roleChips : h('span', { class: 'hint' }, 'No role.')),
        h('div', { class: 'actions' }, grantSelect, grantButton),
        h('p', { class: 'hint' }, 'Removing a role ends every session of the account.'),
        h('h2', {}, 'Sessions'),
        h(
          'p',
          { class: 'hint' },
          'The API lists sessions to their owner only; here, every session of the account can be ended at once.',
        ),
        h('div', { class: 'actions' }, revokeButton),
      ),
    ),
    securityEvents(user.id),
    deletion(user, status),
  );
}

function fact(term, value) {
  return [h('dt', {}, term), h('dd', {}, value)];
}

/** Deleting takes typing the account's email: a slip of the mouse must not delete anyone. */
function deletion(user, status) {
  const typed = h('input', { type: 'text', id: 'delete-confirm', autocomplete: 'off', 'aria-label': 'Type the email to confirm' });
  const button = h('button', { type: 'button', class: 'danger', id: 'delete-user', disabled: true }, 'Delete this user');
  typed.addEventListener('input', () => {
    button.disabled = typed.value.trim().toLowerCase() !== user.email;
  });
  button.onclick = async () => {
    button.disabled = true;
    try {
      await call(DELETE_USER, { id: user.id });
      go('#/users');
    } catch (error) {
      status.fail(describe(error));
      button.disabled = false;
    }
  };
  return h(
    'div',
    { class: 'card danger-zone' },
    h('h2', {}, 'Delete'),
    h('p', {}, 'Deleting removes the account and everything of it. Type ', h('strong', {}, user.email), ' to confirm.'),
    h('div', { class: 'actions' }, typed, button),
  );
}
