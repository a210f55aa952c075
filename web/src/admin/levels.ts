// A pool's buffer level as a word and a tone (shown together: never the colour alone). Any pool is
// critical or low by its own thresholds; the primary pool is also placed against the configured buffer
// levels (minimum, comfortable, ideal).
export interface PoolLevels {
  available: number;
  lowThreshold: number;
  criticalThreshold: number;
}

/** The pool's level as a word and a colour (never the colour alone). */
export function bufferLevel(pool: PoolLevels, primary: boolean, levels: Record<string, number>): { word: string; tone: 'ok' | 'warn' | 'bad' } {
  if (pool.available < pool.criticalThreshold) return { word: 'critical', tone: 'bad' };
  if (pool.available < pool.lowThreshold) return { word: 'low', tone: 'warn' };
  if (!primary) return { word: 'ok', tone: 'ok' };
  if (pool.available < (levels.minimum ?? 0)) return { word: 'below minimum', tone: 'bad' };
  if (pool.available < (levels.comfortable ?? 0)) return { word: 'minimum', tone: 'warn' };
  if (pool.available < (levels.ideal ?? 0)) return { word: 'comfortable', tone: 'ok' };
  return { word: 'ideal', tone: 'ok' };
}
