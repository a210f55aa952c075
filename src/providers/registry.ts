// The composition root of the provider side: one adapter per provider that has a key configured.
// Base URLs, keys and secrets all come from config, so the same adapters talk to fakes in tests.
import type { ProvidersConfig } from '../config/index.ts';
import { createFalAdapter } from './fal/index.ts';
import { createGeminiAdapter } from './gemini/index.ts';
import { createKieAdapter } from './kie/index.ts';
import { createNanoBananaAdapter } from './nanobanana/index.ts';
import type { ProviderAdapter, ProviderName } from './types.ts';
import { createWaveSpeedAdapter } from './wavespeed/index.ts';

export function createAdapters(config: ProvidersConfig): Map<ProviderName, ProviderAdapter> {
  const adapters = new Map<ProviderName, ProviderAdapter>();
  const { nanobanana, kie, fal, gemini, wavespeed } = config;
  const common = (c: { baseUrl: string; apiKey?: string; timeoutMs: number }) => ({
    baseUrl: c.baseUrl,
    apiKey: c.apiKey!,
    timeoutMs: c.timeoutMs,
  });
  if (nanobanana.apiKey) adapters.set('nanobanana', createNanoBananaAdapter(common(nanobanana)));
  if (kie.apiKey) adapters.set('kie', createKieAdapter({ ...common(kie), webhookHmacKey: kie.webhookHmacKey }));
  if (fal.apiKey) adapters.set('fal', createFalAdapter({ ...common(fal), apiBaseUrl: fal.apiBaseUrl, jwksUrl: fal.jwksUrl, adminKey: fal.adminKey }));
  if (gemini.apiKey) adapters.set('gemini', createGeminiAdapter(common(gemini)));
  if (wavespeed.apiKey) adapters.set('wavespeed', createWaveSpeedAdapter({ ...common(wavespeed), webhookSecret: wavespeed.webhookSecret }));
  return adapters;
}
