// The user's token. The page calls the API as the user in one of three ways:
// - `#token=<JWT>` in the address (what `tally start --demo` prints for the demo user; a fragment is
//   never sent to a server, so it reaches no log). It is moved to sessionStorage and removed from the
//   address at once, so it is not bookmarked or shared by copying the URL.
// - a token pasted into the sign-in form (kept in sessionStorage: gone when the tab closes);
// - nothing: the browser sends the host app's session cookie by itself.
const KEY = 'tally.userToken';

export function takeTokenFromFragment(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]!));
  history.replaceState(null, '', window.location.pathname + window.location.search);
}

export const userToken = (): string | null => sessionStorage.getItem(KEY);
export const saveUserToken = (token: string): void => sessionStorage.setItem(KEY, token.trim());
export const forgetUserToken = (): void => sessionStorage.removeItem(KEY);
