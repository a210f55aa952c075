import { describe, expect, it } from 'vitest';
import { orderRoutes } from './router.ts';

const routes = [
  { name: 'nanobanana', priority: 10, index: 0, costMicroUsd: 100_000 },
  { name: 'wavespeed', priority: 20, index: 1, costMicroUsd: 50_000 },
  { name: 'kie', priority: 30, index: 2, costMicroUsd: 20_000 },
  { name: 'fal', priority: 40, index: 3, costMicroUsd: 20_000 },
];

describe('orderRoutes', () => {
  it('priority: lower priority first, whatever the cost', () => {
    expect(orderRoutes(routes, 'priority').map((r) => r.name)).toEqual(['nanobanana', 'wavespeed', 'kie', 'fal']);
  });
  it('cheapest: lowest cost per request first; equal costs by priority', () => {
    expect(orderRoutes(routes, 'cheapest').map((r) => r.name)).toEqual(['kie', 'fal', 'wavespeed', 'nanobanana']);
  });
  it('does not reorder its input', () => {
    orderRoutes(routes, 'cheapest');
    expect(routes[0]!.name).toBe('nanobanana');
  });
});
