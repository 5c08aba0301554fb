// What the signed-in user may do (issue 21): the console offers only these actions; the member checks every change
// anyway, and a refusal (403 problem) is shown where it happens.
import { author } from './api.js';
import { session } from './session.js';

// The name changes are made as: the signed-in user, or (auth disabled) the author typed in the header.
export function me() {
  return session.authEnabled ? session.user : author();
}

// With auth disabled nothing is checked, so everything is offered.
export const checked = () => session.authEnabled === true;

const isRoot = () => (session.roles || []).includes('root');

// Whether the caller manages the app (owner, an admin by user or role, or root), from GET /apps/{app}/access.
export function managesApp(access) {
  if (!checked() || isRoot()) return true;
  const user = session.user;
  const admins = access.admins || [];
  return access.owner === user || admins.includes('user:' + user) || (session.roles || []).some(r => admins.includes('role:' + r));
}

export function ownsApp(access) {
  return !checked() || isRoot() || access.owner === session.user;
}

// "edit · release" — what a namespace's permissions answer allows, for the page's summary.
export function describePermissions(p) {
  const names = ['edit', 'release', 'reveal', 'manage'].filter(x => p[x]);
  return names.length ? names.join(' · ') : 'read only';
}
