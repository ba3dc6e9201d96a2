/**
 * Where a participant stands, as pure functions: what the server lets them do with the room's
 * files, and which screen they see (device check, waiting room, the room, the end screen).
 */

/** What the server lets the caller do with the room's files now (from `me.permissions`). */
export type FileAccess = 'none' | 'read' | 'write';

export function fileAccess(permissions: ReadonlyArray<string> | undefined): FileAccess {
  if (permissions === undefined) {
    return 'none';
  }
  if (permissions.includes('files:write')) {
    return 'write';
  }
  return permissions.includes('files:read') ? 'read' : 'none';
}

/** The server's access level (`none`, `read`, `execute`, `write`: page config `interviewAccess`). */
export function accessOfLevel(level: string | undefined): FileAccess {
  if (level === 'write') {
    return 'write';
  }
  // Interviewers after End run code but no longer write the files.
  return level === 'read' || level === 'execute' ? 'read' : 'none';
}

/**
 * The screen a participant sees:
 * - `device-check` until they press Join;
 * - `joining` until the room socket welcomes them;
 * - `waiting` (candidate, waiting room) and `denied`;
 * - `ended` for a candidate once the interview is over (staff keep the room);
 * - `closed` when the socket closed for good (another tab, invite revoked, room deleted);
 * - `room` otherwise.
 */
export type Screen = 'device-check' | 'joining' | 'waiting' | 'denied' | 'ended' | 'closed' | 'room';

export function screenFor(options: {
  joined: boolean;
  welcomed: boolean;
  role: string | null;
  status: string | null;
  roomState: string | null;
  closed: boolean;
}): Screen {
  if (!options.joined) {
    // After End a candidate has nothing to join: no camera check, just the end.
    return options.role === 'candidate' && options.roomState === 'ended' ? 'ended' : 'device-check';
  }
  if (options.closed) {
    return 'closed';
  }
  if (!options.welcomed) {
    return 'joining';
  }
  if (options.role === 'candidate') {
    if (options.roomState === 'ended') {
      return 'ended';
    }
    if (options.status === 'denied') {
      return 'denied';
    }
    if (options.status === 'waiting' || options.status === 'invited') {
      return 'waiting';
    }
    if (options.roomState !== 'live') {
      // Admitted early (or no waiting room) and the interview not started yet.
      return 'waiting';
    }
  }
  return 'room';
}
