-- Purchases of credit packages (src/payments/README.md). Balances stay in the ledger: a purchase row
-- records what was sold, its Stripe ids, the ledger keys of its hold and grant, and what refunds and
-- disputes took back, so each step happens once and `tally ledger check` can prove it.
create table purchases (
  id                   text primary key,
  user_id              text not null,
  mode                 text not null check (mode in ('stripe', 'development')),
  package_id           text not null,
  credits              bigint not null check (credits > 0),
  amount               bigint not null check (amount >= 0),
  currency             text not null,
  status               text not null check (status in ('pending', 'paid', 'expired', 'failed', 'refunded', 'partially_refunded', 'disputed')),
  provider             text not null,
  backing              bigint not null check (backing >= 0),
  -- Ledger key of the hold on the pool (available -> reserved) while the checkout is open.
  hold_key             text,
  checkout_session_id  text unique,
  checkout_url         text,
  expires_at           timestamptz,
  payment_intent_id    text unique,
  customer_id          text,
  -- Set when Checkout completed (paid, or an async payment still on its way).
  checkout_completed_at timestamptz,
  -- Set once, when the credits were granted (ledger key in grant_key).
  granted_at           timestamptz,
  grant_key            text,
  -- Credits granted without backing because the pool could not back a late payment (alerted).
  unbacked_credits     bigint not null default 0,
  amount_refunded      bigint not null default 0,
  -- Credits taken back by refunds and disputes, and what was due but already spent.
  credits_clawed_back  bigint not null default 0,
  credits_spent_before_clawback bigint not null default 0,
  -- Credits refunds and the dispute made due (taken back, or already spent): the next refund owes only the rest.
  refund_credits_due   bigint not null default 0,
  dispute_credits_due  bigint not null default 0,
  dispute_id           text,
  dispute_status       text,
  dispute_clawed_back  bigint not null default 0,
  credits_restored     bigint not null default 0,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  check (credits_clawed_back >= 0 and credits_restored >= 0 and credits_clawed_back - credits_restored <= credits)
);
create index purchases_user on purchases (user_id, created_at desc);
create index purchases_created on purchases (created_at desc, id desc);
-- One open checkout per user and package: a second click finds it and gets the same session.
create unique index purchases_open on purchases (user_id, package_id) where status = 'pending' and mode = 'stripe' and checkout_completed_at is null;

-- Idempotency-Key answers, per caller: a replay gets the first answer, another body under the key a 409.
create table purchase_requests (
  user_id     text not null,
  key         text not null,
  fingerprint text not null,
  -- null while the first request is still running.
  response    jsonb,
  created_at  timestamptz not null default now(),
  primary key (user_id, key)
);

-- Every Stripe event handled, by id: a replay or a concurrent duplicate finds its row and does nothing.
create table stripe_events (
  id          text primary key,
  type        text not null,
  outcome     text not null,
  received_at timestamptz not null default now()
);

-- Refunds and disputes that arrived before the payment they belong to: applied once it is recorded.
create table stripe_deferred_events (
  event_id          text primary key,
  payment_intent_id text not null,
  type              text not null,
  object            jsonb not null,
  created           bigint not null
);
create index stripe_deferred_by_intent on stripe_deferred_events (payment_intent_id, created);

-- A user's Stripe customer (for plans and the billing portal), and the latest state of each subscription.
create table stripe_customers (
  user_id     text primary key,
  customer_id text not null unique,
  created_at  timestamptz not null default now()
);
create table stripe_subscriptions (
  id            text primary key,
  user_id       text not null,
  status        text not null,
  price_id      text,
  tier          text not null,
  event_created bigint not null,
  updated_at    timestamptz not null default now()
);
