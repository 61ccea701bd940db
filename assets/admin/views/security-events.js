// A user's recent security events (`auditEvents`). A server whose schema has no such field
// answers GRAPHQL_VALIDATION_FAILED: the panel then says the events are not available.
import { h, mount, when } from '../dom.js';
import { describe } from '../errors.js';
import { AUDIT_EVENTS } from '../operations.js';
import { call } from '../session.js';

const SHOWN = 20;

export function securityEvents(userId) {
  const body = h('div', { class: 'events', id: 'security-events' }, h('p', { class: 'hint' }, 'Loading…'));
  call(AUDIT_EVENTS, { filter: { userId }, first: SHOWN })
    .then(({ auditEvents }) => {
      const events = auditEvents.edges.map((edge) => edge.node);
      if (events.length === 0) {
        mount(body, h('p', { class: 'hint' }, 'No security event recorded for this user.'));
        return;
      }
      mount(
        body,
        h(
          'table',
          { class: 'list compact' },
          h('thead', {}, h('tr', {}, ...['When', 'Event', 'By', 'Address', 'Details'].map((title) => h('th', {}, title)))),
          h('tbody', {}, events.map(eventRow)),
        ),
        auditEvents.pageInfo.hasNextPage ? h('p', { class: 'hint' }, `The ${SHOWN} most recent are shown.`) : null,
      );
    })
    .catch((error) => {
      if (error.code === 'GRAPHQL_VALIDATION_FAILED') {
        mount(body, h('p', { class: 'hint', id: 'events-unavailable' }, 'Security events are not available on this server.'));
      } else {
        mount(body, h('p', { class: 'status error', role: 'alert' }, describe(error)));
      }
    });
  return h('div', { class: 'card' }, h('h2', {}, 'Recent security events'), body);
}

function eventRow(event) {
  const by = event.actorId && event.actorId !== event.userId ? h('code', { title: event.actorId }, event.actorId.slice(0, 8)) : 'the user';
  return h(
    'tr',
    {},
    h('td', {}, when(event.at)),
    h('td', {}, h('code', {}, event.type)),
    h('td', {}, by),
    h('td', { title: event.userAgent ?? '' }, event.ipAddress ?? '—'),
    h('td', { class: 'details' }, event.details ? JSON.stringify(event.details) : ''),
  );
}
