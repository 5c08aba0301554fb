import { h, clear, fmtNum, badge } from '../dom.js';
import { get } from '../api.js';
import { reload } from '../feedback.js';

export async function renderCluster(main) {
  const [c, leases, locks] = await Promise.all([get('/cluster'), get('/cluster/leases'), get('/cluster/locks')]);
  const stat = (label, value) => h('div', { class: 'stat' }, h('dt', null, label), h('dd', null, value));
  const refresh = h('button', { type: 'button' }, 'Refresh');
  refresh.addEventListener('click', reload);
  clear(main,
    h('h1', null, 'Cluster ', refresh),
    h('dl', { class: 'stats', 'aria-label': 'Cluster status' },
      stat('Health', c.healthy ? badge('healthy', 'ok') : badge('unhealthy: ' + c.healthReason, 'bad')),
      stat('Leader', c.leaderId ? (c.members.find(m => m.isLeader)?.name || c.leaderId) : 'none'),
      stat('Term', c.term), stat('Applied index', fmtNum(c.appliedIndex)), stat('Commit index', fmtNum(c.commitIndex)),
      stat('Revision', fmtNum(c.revision)), stat('Compacted to', fmtNum(c.compactRevision)),
      stat('Keys', fmtNum(c.keys)), stat('Size', `${fmtNum(c.dbSizeBytes)} of ${fmtNum(c.quotaBytes)} bytes`),
      stat('Alarms', c.alarms.length ? c.alarms.join(', ') : 'none'), stat('Cluster id', h('code', null, c.clusterId))),
    h('h2', null, 'Members'),
    h('table', { 'aria-label': 'Members' },
      h('thead', null, h('tr', null, ['Name', 'Id', 'Role', 'Peer URLs', 'Client URLs'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, c.members.map(m => h('tr', null, h('td', null, m.name, m.isSelf ? ' (this member)' : ''), h('td', null, h('code', null, m.id)),
        h('td', null, m.isLeader ? badge('leader', 'ok') : m.isLearner ? 'learner' : 'follower'), h('td', null, m.peerUrls.join(', ')), h('td', null, m.clientUrls.join(', ')))))),
    h('h2', null, `Leases (${leases.length})`),
    leases.length ? h('table', { 'aria-label': 'Leases' },
      h('thead', null, h('tr', null, ['Lease', 'TTL (s)', 'Remaining (s)', 'Keys'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, leases.map(l => h('tr', null, h('td', null, h('code', null, l.id)), h('td', null, l.ttl), h('td', null, l.remainingSeconds ?? '—'),
        h('td', null, leaseKeys(l))))))
      : h('p', { class: 'muted' }, 'No leases.'),
    h('h2', null, `Locks and elections (${locks.length})`),
    locks.length ? h('table', { 'aria-label': 'Locks and elections' },
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Held by (key)', 'Fencing token', 'Waiting'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, locks.map(l => h('tr', null, h('td', null, h('code', null, l.name)), h('td', null, l.kind),
        h('td', null, h('code', null, l.holder.key), l.kind === 'election' ? ` (${l.holder.value})` : ''), h('td', null, l.holder.createRevision), h('td', null, l.waiters.length)))))
      : h('p', { class: 'muted' }, 'No locks held.'));
  return null;
}

// A lease's user keys, then the system-keyspace records it holds (a delivery record's lease), at most five shown.
function leaseKeys(l) {
  const keys = [...l.keys, ...l.systemKeys.map(k => `${k} (system)`)];
  return keys.length > 5 ? `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more` : keys.join(', ');
}
