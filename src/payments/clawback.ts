// The arithmetic of refunds and disputes, as pure functions (unit-tested in clawback.test.ts).

/**
 * The credits a refunded (or disputed) amount stands for: the same share of the purchase's credits as
 * of its price, rounded down so a partial refund never takes more than it paid back; all of them once the
 * whole price is refunded. BigInt: credits × amount may pass 2^53.
 */
export function creditsForAmount(input: { credits: number; price: number; amount: number }): number {
  if (input.amount <= 0) return 0;
  if (input.price <= 0 || input.amount >= input.price) return input.credits;
  return Number((BigInt(input.credits) * BigInt(input.amount)) / BigInt(input.price));
}

export interface ClawbackPlan {
  /** Credits taken from the user now. */
  take: number;
  /** Credits that were due but already spent: recorded, not taken. */
  spent: number;
  /** Provider units of backing returned to available for the credits taken. */
  release: number;
  /** Of `take`, credits the purchase was granted without backing (nothing to release for them). */
  unbackedTaken: number;
}

/**
 * What to take back when `due` more credits are owed: never more than the user holds (never below
 * zero); the rest was spent. Unbacked credits are taken first, since they have no backing to release.
 */
export function planClawback(input: { due: number; held: number; unbackedLeft: number; ratio: number }): ClawbackPlan {
  const due = Math.max(0, input.due);
  const take = Math.min(due, Math.max(0, input.held));
  const unbackedTaken = Math.min(take, Math.max(0, input.unbackedLeft));
  return { take, spent: due - take, release: (take - unbackedTaken) * input.ratio, unbackedTaken };
}

/**
 * Credits a refund now makes due: the share of the cumulative refunded amount, less what earlier
 * refunds already made due, and never more than the dispute left. Stripe reports `amount_refunded`
 * cumulatively, so an old or repeated event makes nothing due.
 */
export function refundDue(input: { credits: number; price: number; amountRefunded: number; refundDueSoFar: number; disputeDue: number }): number {
  const target = Math.min(creditsForAmount({ credits: input.credits, price: input.price, amount: input.amountRefunded }), input.credits - input.disputeDue);
  return Math.max(0, target - input.refundDueSoFar);
}

/** Credits a dispute makes due: its share of the price, less what refunds already made due. */
export function disputeDue(input: { credits: number; price: number; disputedAmount: number; refundDue: number }): number {
  return Math.max(0, Math.min(creditsForAmount({ credits: input.credits, price: input.price, amount: input.disputedAmount }), input.credits - input.refundDue));
}

/** A purchase's status after a refund: refunded once the whole price is back, else partially. */
export function statusAfterRefund(input: { price: number; amountRefunded: number }): 'refunded' | 'partially_refunded' {
  return input.amountRefunded >= input.price ? 'refunded' : 'partially_refunded';
}
