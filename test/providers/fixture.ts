// What a provider brings to the contract suite: its fake, its adapter pointed at the fake, and the
// failure kinds its protocol can express. One fixture per provider: test/providers/<name>.fixture.ts.
import type { FakeFailure, FakeProviderServer } from '../fakes/fake-provider.ts';
import type { CallbackRequest, ProviderAdapter, ProviderErrorKind, ProviderName } from '../../src/providers/types.ts';

export interface ContractFixture {
  name: ProviderName;
  /** The provider's model id the suite submits to. */
  model: string;
  /** The unit of the balance endpoint, if the provider has one (the fake's `balance` control is in the provider's own unit: credits or USD). */
  balanceUnit?: 'credit' | 'micro_usd';
  /** Starts the provider's fake on 127.0.0.1. */
  startFake(): Promise<FakeProviderServer>;
  /** The real adapter, configured with the fake's base URL (and a wrong key or secret when asked). */
  adapter(fake: FakeProviderServer, options: { timeoutMs: number; apiKey?: string }): ProviderAdapter;
  /** The error kind each fake failure must surface as, for the failures this protocol can express. */
  failures: Partial<Record<FakeFailure, ProviderErrorKind>>;
  /** Whether the fake signs its callbacks; the suite then checks that a tampered one is refused. */
  signsCallbacks: boolean;
  /** Where the provider's callbacks carry a signature to break, a way to break it. */
  tamper?(request: CallbackRequest): CallbackRequest;
}

export const defineFixture = (fixture: ContractFixture) => fixture;
