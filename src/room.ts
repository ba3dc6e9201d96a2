import { PageConfig } from '@jupyterlab/coreutils';

/** Room ids are URL-safe base64 tokens (Python's `secrets.token_urlsafe`). */
const ROOM_IN_PATH = /(?:^|\/)interviews\/([A-Za-z0-9_-]+)\//;

/**
 * The room this page belongs to: the `interviewRoom` page config option set
 * by the server wins, else a path such as `.../interviews/<room-id>/...`.
 */
export function findRoomId(
  pathname: string = window.location.pathname
): string | null {
  const configured = PageConfig.getOption('interviewRoom');
  if (configured) {
    return configured;
  }
  let path = pathname;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    // A malformed escape: match against the raw path.
  }
  return ROOM_IN_PATH.exec(path)?.[1] ?? null;
}
