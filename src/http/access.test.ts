import { describe, expect, it } from 'vitest';
import { cookieRequestAllowed } from './access.ts';

describe('cookieRequestAllowed (CSRF rule for the session cookie)', () => {
  const allowed = ['https://api.example.com', 'https://app.example.com'];
  it('lets reads through whatever their Origin', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'get']) expect(cookieRequestAllowed(method, 'https://evil.example', allowed)).toBe(true);
  });
  it('lets a state-changing request through only from an allowed origin', () => {
    expect(cookieRequestAllowed('POST', 'https://app.example.com', allowed)).toBe(true);
    expect(cookieRequestAllowed('DELETE', 'HTTPS://API.EXAMPLE.COM', allowed)).toBe(true);
    for (const origin of ['https://evil.example', 'null', undefined, 'https://app.example.com.evil.example', 'http://app.example.com']) {
      expect(cookieRequestAllowed('POST', origin, allowed)).toBe(false);
      expect(cookieRequestAllowed('PUT', origin, allowed)).toBe(false);
    }
  });
});
