// The chaos campaign's short version, in the normal suite so regressions show: two trials of
// test/chaos/kill.chaos.ts (workers SIGKILLed at random moments under mixed load) with the same proofs
// (every task terminal, each charge once, nothing held, ledger check clean). `npm run chaos` runs 20.
process.env.CHAOS_TRIALS ??= '2';
await import('./chaos/kill.chaos.ts');
