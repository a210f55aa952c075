import { describe, expect, it } from 'vitest';
import { creditsForAmount, disputeDue, planClawback, refundDue, statusAfterRefund } from './clawback.ts';

describe('refund arithmetic', () => {
  it('maps a refunded amount to the same share of credits, rounded down, all of them at the full price', () => {
    expect(creditsForAmount({ credits: 50, price: 3999, amount: 3999 })).toBe(50);
    expect(creditsForAmount({ credits: 50, price: 3999, amount: 5000 })).toBe(50);
    expect(creditsForAmount({ credits: 50, price: 4000, amount: 2000 })).toBe(25);
    expect(creditsForAmount({ credits: 10, price: 999, amount: 333 })).toBe(3); // 3.33 -> 3
    expect(creditsForAmount({ credits: 10, price: 999, amount: 0 })).toBe(0);
    expect(creditsForAmount({ credits: 100_000_000, price: 90_000_000_00, amount: 45_000_000_00 })).toBe(50_000_000); // past 2^53 in between
  });

  it('takes what the user holds and records the rest as spent; never below zero', () => {
    expect(planClawback({ due: 10, held: 4, unbackedLeft: 0, ratio: 4 })).toEqual({ take: 4, spent: 6, release: 16, unbackedTaken: 0 });
    expect(planClawback({ due: 5, held: 40, unbackedLeft: 0, ratio: 4 })).toEqual({ take: 5, spent: 0, release: 20, unbackedTaken: 0 });
    expect(planClawback({ due: 5, held: -3, unbackedLeft: 0, ratio: 4 })).toEqual({ take: 0, spent: 5, release: 0, unbackedTaken: 0 });
    expect(planClawback({ due: -2, held: 10, unbackedLeft: 0, ratio: 4 })).toEqual({ take: 0, spent: 0, release: 0, unbackedTaken: 0 });
  });

  it('takes unbacked credits first: they release no backing', () => {
    expect(planClawback({ due: 10, held: 10, unbackedLeft: 3, ratio: 4 })).toEqual({ take: 10, spent: 0, release: 28, unbackedTaken: 3 });
  });

  it('a refund owes only what earlier refunds did not: cumulative amounts, so a replayed or older event owes nothing', () => {
    expect(refundDue({ credits: 50, price: 4000, amountRefunded: 2000, refundDueSoFar: 0, disputeDue: 0 })).toBe(25);
    expect(refundDue({ credits: 50, price: 4000, amountRefunded: 4000, refundDueSoFar: 25, disputeDue: 0 })).toBe(25);
    expect(refundDue({ credits: 50, price: 4000, amountRefunded: 2000, refundDueSoFar: 25, disputeDue: 0 })).toBe(0);
    expect(refundDue({ credits: 50, price: 4000, amountRefunded: 1000, refundDueSoFar: 25, disputeDue: 0 })).toBe(0);
    expect(refundDue({ credits: 50, price: 4000, amountRefunded: 4000, refundDueSoFar: 0, disputeDue: 50 })).toBe(0);
  });

  it('a dispute owes its share, less what refunds made due', () => {
    expect(disputeDue({ credits: 50, price: 4000, disputedAmount: 4000, refundDue: 0 })).toBe(50);
    expect(disputeDue({ credits: 50, price: 4000, disputedAmount: 4000, refundDue: 25 })).toBe(25);
    expect(disputeDue({ credits: 50, price: 4000, disputedAmount: 2000, refundDue: 40 })).toBe(10);
  });

  it('names the status after a refund', () => {
    expect(statusAfterRefund({ price: 999, amountRefunded: 999 })).toBe('refunded');
    expect(statusAfterRefund({ price: 999, amountRefunded: 500 })).toBe('partially_refunded');
  });
});
