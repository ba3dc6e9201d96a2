/** The room's STUN/TURN servers (`GET rooms/{id}/ice-servers`) as a peer connection's settings. */

/** One entry of the ice-servers answer (openapi.json, `IceServer`). */
export interface IIceServer {
  urls: string[];
  username?: string;
  credential?: string;
  credentialType?: 'password';
  /** Unix time (s) the TURN credential stops working. */
  expires_at?: number;
}

/** The ice-servers answer (openapi.json, `IceServers`). */
export interface IIceServers {
  ice_servers: IIceServer[];
  ttl_s: number;
  ice_transport_policy: 'all' | 'relay';
}

/** The `RTCConfiguration` fields this sets; structurally an `RTCConfiguration`. */
export interface IPeerConfiguration {
  iceServers: Array<{ urls: string[]; username?: string; credential?: string }>;
  iceTransportPolicy: 'all' | 'relay';
}

export function rtcConfiguration(ice: IIceServers): IPeerConfiguration {
  return {
    iceServers: ice.ice_servers.map(server => {
      const entry: { urls: string[]; username?: string; credential?: string } = {
        urls: [...server.urls]
      };
      if (server.username !== undefined) {
        entry.username = server.username;
      }
      if (server.credential !== undefined) {
        entry.credential = server.credential;
      }
      return entry;
    }),
    iceTransportPolicy: ice.ice_transport_policy
  };
}

/**
 * When to fetch fresh credentials, unix seconds: a minute before the first TURN credential
 * expires, but not before half of its remaining lifetime has passed; null when nothing expires.
 */
export function refreshAt(ice: IIceServers, now: number): number | null {
  const expiries = ice.ice_servers
    .map(server => server.expires_at)
    .filter((at): at is number => typeof at === 'number');
  if (expiries.length === 0) {
    return null;
  }
  const first = Math.min(...expiries);
  return Math.max(now, first - 60, now + (first - now) / 2);
}

/** The ICE servers a page was given (page config `interviewIce`, JSON), or null when absent or malformed. */
export function parseIceServers(raw: unknown): IIceServers | null {
  let value = raw;
  if (typeof raw === 'string') {
    if (raw === '') {
      return null;
    }
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  const ice = value as Partial<IIceServers> | null;
  return ice !== null && typeof ice === 'object' && Array.isArray(ice.ice_servers) ? (ice as IIceServers) : null;
}
