import { describe, expect, it } from 'vitest';
import { isAdminToken } from './jwt.ts';

const auth = { adminClaim: 'app_metadata.role=admin', adminUserIds: ['root'] };

describe('isAdminToken', () => {
  it('reads the claim at its dotted path', () => {
    expect(isAdminToken({ sub: 'u', app_metadata: { role: 'admin' } }, auth)).toBe(true);
    expect(isAdminToken({ sub: 'u', app_metadata: { roles: ['x'], role: 'editor' } }, auth)).toBe(false);
    expect(isAdminToken({ sub: 'u', app_metadata: { role: ['viewer', 'admin'] } }, auth)).toBe(true);
  });
  it('a look-alike elsewhere is not the claim (user_metadata is the user’s own to write)', () => {
    expect(isAdminToken({ sub: 'u', user_metadata: { role: 'admin' }, role: 'admin' }, auth)).toBe(false);
    expect(isAdminToken({ sub: 'u', app_metadata: 'role=admin' }, auth)).toBe(false);
  });
  it('listed user ids are admins; an empty claim setting turns the claim off', () => {
    expect(isAdminToken({ sub: 'root' }, auth)).toBe(true);
    expect(isAdminToken({ sub: 'u', app_metadata: { role: 'admin' } }, { adminClaim: '', adminUserIds: [] })).toBe(false);
  });
  it('does not walk into inherited properties', () => {
    expect(isAdminToken({ sub: 'u' }, { adminClaim: 'constructor.name=Object', adminUserIds: [] })).toBe(false);
  });
});
