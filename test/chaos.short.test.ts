// The chaos campaign's short version, in the normal suite so regressions show: three trials of
// test/chaos/kill.chaos.ts, one of each kind (processes SIGKILLed, a hostile provider, PostgreSQL
// restarted mid-load), with the same proofs (every task terminal, each charge once, nothing held,
// ledger check clean). `npm run chaos` runs 24.
process.env.CHAOS_TRIALS ??= '3';
await import('./chaos/kill.chaos.ts');
