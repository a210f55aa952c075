import type { ProvidersConfig } from '../config/index.ts';
import type { ProviderAdapter, ProviderName } from './types.ts';
export function createAdapters(_config: ProvidersConfig, _options: { fetch?: typeof fetch } = {}): Map<ProviderName, ProviderAdapter> {
  return new Map();
}
