// Role definitions (superadmins): creating one, and deleting one after a second click (it is
// taken from every user who has it, ending their sessions).
import { h, statusLine } from '../dom.js';
import { describe } from '../errors.js';
import { CREATE_ROLE, DELETE_ROLE, ROLES } from '../operations.js';
import { call } from '../session.js';

export function rolesView() {
  const status = statusLine();
  const rows = h('tbody');

  async function load() {
    try {
      const { roles } = await call(ROLES);
      rows.replaceChildren(...roles.map(row));
    } catch (error) {
      status.fail(describe(error));
    }
  }

  function row(role) {
    const remove = h('button', { type: 'button', class: 'danger', dataset: { code: role.code } }, 'Delete');
    remove.onclick = async () => {
      if (remove.dataset.armed !== 'yes') {
        remove.dataset.armed = 'yes';
        remove.textContent = `Delete ${role.code} from everyone?`;
        return;
      }
      remove.disabled = true;
      try {
        await call(DELETE_ROLE, { code: role.code });
        status.show(`Deleted ${role.code}; its holders' sessions ended.`);
        load();
      } catch (error) {
        status.fail(describe(error));
        remove.disabled = false;
      }
    };
    return h(
      'tr',
      {},
      h('td', {}, h('code', {}, role.code)),
      h('td', {}, role.name),
      h('td', {}, role.builtIn ? h('span', { class: 'hint' }, 'built in') : remove),
    );
  }

  const code = h('input', { type: 'text', id: 'role-code', required: true, placeholder: 'code, e.g. support', 'aria-label': 'Code', pattern: '[a-z][a-z0-9_\\-]{0,31}' });
  const name = h('input', { type: 'text', id: 'role-name', required: true, placeholder: 'Name', 'aria-label': 'Name' });
  const create = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const { createRole } = await call(CREATE_ROLE, { input: { code: code.value.trim(), name: name.value.trim() } });
          status.show(`Created ${createRole.code}.`);
          code.value = name.value = '';
          load();
        } catch (error) {
          status.fail(describe(error));
        }
      },
    },
    code,
    name,
    h('button', { type: 'submit', class: 'primary' }, 'Create role'),
  );
  load();
  return h(
    'section',
    {},
    h('h1', {}, 'Roles'),
    create,
    status.element,
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Code'), h('th', {}, 'Name'), h('th', {}, ''))), rows),
  );
}
