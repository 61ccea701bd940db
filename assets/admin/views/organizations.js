// Organizations (superadmins): a page at a time, and creating one.
import { h, statusLine, when } from '../dom.js';
import { describe } from '../errors.js';
import { createPager } from '../pager.js';
import { CREATE_ORGANIZATION, ORGANIZATIONS } from '../operations.js';
import { call } from '../session.js';

const PAGE_SIZE = 25;

export function organizationsView() {
  const pager = createPager();
  const status = statusLine();
  const rows = h('tbody');
  const total = h('span', { class: 'total' });
  const previous = h('button', { type: 'button', onclick: () => { pager.back(); load(); } }, '← Previous');
  const next = h('button', { type: 'button', onclick: () => { pager.forward(); load(); } }, 'Next →');

  async function load() {
    previous.disabled = next.disabled = true;
    try {
      const { organizations } = await call(ORGANIZATIONS, { first: PAGE_SIZE, after: pager.after });
      pager.update(organizations.pageInfo);
      total.textContent = `${organizations.totalCount} organization${organizations.totalCount === 1 ? '' : 's'}`;
      rows.replaceChildren(
        ...organizations.nodes.map((org) => h('tr', {}, h('td', {}, org.name), h('td', {}, h('code', {}, org.id)), h('td', {}, when(org.createdAt)))),
      );
      previous.disabled = !pager.hasPrevious;
      next.disabled = !pager.hasNext;
    } catch (error) {
      status.fail(describe(error));
    }
  }

  const name = h('input', { type: 'text', id: 'organization-name', required: true, 'aria-label': 'Name of the new organization', placeholder: 'Name' });
  const create = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const { createOrganization } = await call(CREATE_ORGANIZATION, { name: name.value.trim() });
          status.show(`Created ${createOrganization.name}.`);
          name.value = '';
          pager.reset();
          load();
        } catch (error) {
          status.fail(describe(error));
        }
      },
    },
    name,
    h('button', { type: 'submit', class: 'primary' }, 'Create organization'),
  );
  load();
  return h(
    'section',
    {},
    h('div', { class: 'title-row' }, h('h1', {}, 'Organizations'), total),
    create,
    status.element,
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Id'), h('th', {}, 'Created'))), rows),
    h('div', { class: 'pager' }, previous, next),
  );
}
