// The frame around every view once signed in: the name of the console, the sections the
// administrator may use, who is signed in, and signing out.
import { h } from '../dom.js';
import { isSuperadmin, signOut, user } from '../session.js';

export function shell(route) {
  const me = user();
  const link = (hash, label, active) =>
    h('a', { href: hash, class: active ? 'active' : '', 'aria-current': active ? 'page' : null }, label);
  const usersActive = route.view === 'users' || route.view === 'user' || route.view === 'new-user';
  const nav = h(
    'nav',
    { 'aria-label': 'Sections' },
    link('#/users', 'Users', usersActive),
    isSuperadmin(me) && link('#/organizations', 'Organizations', route.view === 'organizations'),
    isSuperadmin(me) && link('#/roles', 'Roles', route.view === 'roles'),
  );
  const content = h('main', { id: 'content' });
  const element = h(
    'div',
    { class: 'shell' },
    h(
      'header',
      {},
      h('span', { class: 'brand' }, 'latchkey admin'),
      nav,
      h(
        'span',
        { class: 'who' },
        h('span', { class: 'signed-in-as' }, me.email),
        isSuperadmin(me) ? h('span', { class: 'badge' }, 'superadmin') : h('span', { class: 'badge' }, 'admin'),
        h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'),
      ),
    ),
    content,
  );
  return { element, content };
}
