import { describe, expect, it } from 'vitest';
import { matchesFilter, parseFilter } from './filter.js';

const c1 = {
  name: 'web-1',
  status: 'Running',
  type: 'container',
  ephemeral: false,
  location: 'h2',
  description: 'front end',
  config: { 'image.os': 'BusyBox', 'user.role': 'web' },
  devices: { root: { path: '/', pool: 'default', type: 'disk' } },
};

const matches = (filter: string) => matchesFilter(c1, parseFilter(filter));

describe('parseFilter', () => {
  it('reads clauses joined by and/or, with not and quoted values', () => {
    expect(parseFilter('not name eq c1 or description eq "two words here" and status ne Running')).toEqual([
      { joinedBy: 'and', not: true, field: 'name', operator: 'eq', value: 'c1' },
      { joinedBy: 'or', not: false, field: 'description', operator: 'eq', value: 'two words here' },
      { joinedBy: 'and', not: false, field: 'status', operator: 'ne', value: 'Running' },
    ]);
  });

  it.each([
    ['name', 'clause has no operator'],
    ['name eq', 'clause has no value'],
    ['not', 'incomplete not clause'],
    ['name eq "open', 'unterminated quote'],
    // As in LXD, the opening word's own closing quote is not looked at.
    ['name eq "c1"', 'unterminated quote'],
    ['name eq c1 xor status eq Running', 'invalid clause composition'],
    ['name eq c1 and', 'unterminated compound clause'],
  ])('refuses %j with LXD’s message', (filter, reason) => {
    expect(() => parseFilter(filter)).toThrow(`Invalid filter: ${reason}`);
  });
});

describe('matchesFilter', () => {
  it.each([
    ['name eq web-1', true],
    ['name eq WEB-1', true],
    ['name eq web', false],
    ['name eq web-.*', true],
    ['name eq ^web', true],
    ['name ne web-1', false],
    ['not name eq web-1', false],
    ['not name eq db', true],
    ['status eq Running and location eq h2', true],
    ['status eq Stopped or location eq h2', true],
    ['status eq Stopped and location eq h2 or name eq web-1', true],
    ['config.image.os eq busybox', true],
    ['config.user.role eq db', false],
    ['config.user.missing eq .*', true],
    ['devices.root.pool eq default', true],
    ['description eq "front end"', true],
    ['description eq "back end" or name eq x', false],
    ['name eq web-[', false],
    ['ephemeral eq false', false],
    ['no.such.field eq .*', false],
  ])('%s → %s', (filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });
});
