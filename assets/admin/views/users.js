// Users: search by email or name, filter by role and status, a page at a time from the
// server (never all of them), forward and back, with the number of matches.
import { h, statusLine, when } from '../dom.js';
import { describe } from '../errors.js';
import { createPager } from '../pager.js';
import { ROLES, USERS } from '../operations.js';
import { go } from '../router.js';
import { call } from '../session.js';

const PAGE_SIZE = 25;
const SEARCH_DELAY_MS = 250;

export function usersView() {
  const pager = createPager();
  const status = statusLine();
  let requestNumber = 0;
  let searchTimer = null;

  const search = h('input', { type: 'search', id: 'search', placeholder: 'Search…', 'aria-label': 'Search', autocomplete: 'off' });
  const searchField = h(
    'select',
    { id: 'search-field', 'aria-label': 'Search in' },
    h('option', { value: 'email' }, 'Email contains'),
    h('option', { value: 'name' }, 'Name contains'),
  );
  const role = h('select', { id: 'role-filter', 'aria-label': 'Role' }, h('option', { value: '' }, 'Any role'));
  const active = h(
    'select',
    { id: 'active-filter', 'aria-label': 'Status' },
    h('option', { value: '' }, 'Active and inactive'),
    h('option', { value: 'true' }, 'Active only'),
    h('option', { value: 'false' }, 'Inactive only'),
  );
  const total = h('span', { class: 'total', id: 'total' });
  const rows = h('tbody');
  const previous = h('button', { type: 'button', id: 'previous-page', onclick: () => { pager.back(); load(); } }, '← Previous');
  const next = h('button', { type: 'button', id: 'next-page', onclick: () => { pager.forward(); load(); } }, 'Next →');
  const pageNumber = h('span', { class: 'page-number', id: 'page-number' });

  const filter = () => {
    const wanted = {};
    const text = search.value.trim();
    if (text) wanted[searchField.value] = text;
    if (role.value) wanted.role = role.value;
    if (active.value) wanted.active = active.value === 'true';
    return wanted;
  };

  async function load() {
    // Answers can arrive out of order while typing: only the latest request draws.
    const mine = ++requestNumber;
    previous.disabled = next.disabled = true;
    status.show('Loading…');
    try {
      const { users } = await call(USERS, { filter: filter(), first: PAGE_SIZE, after: pager.after });
      if (mine !== requestNumber) return;
      pager.update(users.pageInfo);
      total.textContent = `${users.totalCount} user${users.totalCount === 1 ? '' : 's'}`;
      pageNumber.textContent = `Page ${pager.number}`;
      rows.replaceChildren(...users.nodes.map(row));
      if (users.nodes.length === 0) rows.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No user matches.')));
      previous.disabled = !pager.hasPrevious;
      next.disabled = !pager.hasNext;
      status.clear();
    } catch (error) {
      if (mine !== requestNumber) return;
      previous.disabled = !pager.hasPrevious;
      status.fail(describe(error));
    }
  }

  const restart = () => {
    pager.reset();
    load();
  };
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(restart, SEARCH_DELAY_MS);
  });
  for (const select of [searchField, role, active]) select.addEventListener('change', restart);

  call(ROLES)
    .then(({ roles }) => role.append(...roles.map((r) => h('option', { value: r.code }, `${r.name} (${r.code})`))))
    .catch((error) => status.fail(describe(error)));
  load();

  return h(
    'section',
    { class: 'users' },
    h('div', { class: 'title-row' }, h('h1', {}, 'Users'), total, h('a', { href: '#/users/new', class: 'button primary' }, 'New user')),
    h('div', { class: 'filters' }, searchField, search, role, active),
    status.element,
    h(
      'table',
      { class: 'list', id: 'users-table' },
      h('thead', {}, h('tr', {}, ...['Email', 'Name', 'Roles', 'Status', 'Last sign-in', 'Created'].map((title) => h('th', {}, title)))),
      rows,
    ),
    h('div', { class: 'pager' }, previous, pageNumber, next),
  );
}

function row(user) {
  const open = (event) => {
    if (!event.target.closest('a')) go(`#/users/${user.id}`);
  };
  return h(
    'tr',
    { class: 'clickable', dataset: { id: user.id }, onclick: open },
    h('td', {}, h('a', { href: `#/users/${user.id}` }, user.email)),
    h('td', {}, user.name ?? ''),
    h('td', {}, user.roles.map((code) => h('span', { class: 'chip' }, code))),
    h(
      'td',
      {},
      user.active ? h('span', { class: 'state on' }, 'active') : h('span', { class: 'state off' }, 'inactive'),
      user.emailVerified ? null : h('span', { class: 'state warn' }, 'unverified'),
    ),
    h('td', {}, when(user.lastLoginAt)),
    h('td', {}, when(user.createdAt)),
  );
}
