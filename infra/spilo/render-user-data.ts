import { HOST_LAYOUT } from './host-layout.js';
import type { HeartbeatUnits } from './render-heartbeat.js';

/** Input of {@link renderUserData}. */
export interface UserDataInput {
  /** Block device name of the data volume as given in the instance's mapping, e.g. `/dev/sdf`. */
  readonly dataDevice: string;
  /** The rendered secret-fetching script (`renderFetchSecretsScript`). */
  readonly fetchSecretsScript: string;
  /** The rendered Spilo unit (`renderSpiloUnit`). */
  readonly spiloUnit: string;
  /** The rendered etcd unit (`renderEtcdUnit`), only when etcd runs on the nodes. */
  readonly etcdUnit?: string;
  /** The rendered WAL heartbeat units (`renderHeartbeatUnits`), unless the heartbeat is off. */
  readonly heartbeat?: HeartbeatUnits;
}

/** Heredoc delimiter for the files the user data writes; no rendered file may contain it. */
const EOF_MARKER = 'WALWATCH_END_OF_FILE';

/** Raised when the user data cannot be rendered from its input. */
export class UserDataError extends Error {
  override readonly name = 'UserDataError';
}

/**
 * Renders the boot script of a Spilo node (Amazon Linux 2023): install podman, format and mount
 * the data volume once, write the secret-fetching script and the systemd units (Spilo, etcd when on the
 * node, the WAL heartbeat timer unless off), start them.
 * It holds no secret: only ARNs, which the fetch script resolves at every service start.
 */
export function renderUserData(input: UserDataInput): string {
  const files: [path: string, mode: string, content: string][] = [
    [HOST_LAYOUT.fetchSecretsScript, '0700', input.fetchSecretsScript],
    [HOST_LAYOUT.spiloUnitFile, '0644', input.spiloUnit],
  ];
  if (input.etcdUnit !== undefined) {
    files.push([HOST_LAYOUT.etcdUnitFile, '0644', input.etcdUnit]);
  }
  if (input.heartbeat !== undefined) {
    files.push([HOST_LAYOUT.heartbeatServiceFile, '0644', input.heartbeat.service]);
    files.push([HOST_LAYOUT.heartbeatTimerFile, '0644', input.heartbeat.timer]);
  }
  const writes = files.map(([path, mode, content]) => {
    if (content.split('\n').includes(EOF_MARKER)) {
      throw new UserDataError(`${path} contains the heredoc marker line '${EOF_MARKER}'`);
    }
    const body = content.endsWith('\n') ? content : `${content}\n`;
    return `cat > ${path} <<'${EOF_MARKER}'\n${body}${EOF_MARKER}\nchmod ${mode} ${path}`;
  });
  const units = [
    ...(input.etcdUnit === undefined ? [] : ['etcd.service']),
    'spilo.service',
    ...(input.heartbeat === undefined ? [] : ['walwatch-heartbeat.timer']),
  ].join(' ');
  const etcdDir = input.etcdUnit === undefined ? '' : `install -d -m 0700 ${HOST_LAYOUT.etcdDataOnHost}\n`;
  return `#!/bin/bash
set -euo pipefail
dnf install -y podman python3

# The data volume: formatted on first boot only, mounted by UUID.
dev=${input.dataDevice}
for _ in $(seq 90); do [ -e "$dev" ] && break; sleep 2; done
blkid "$dev" >/dev/null || mkfs.xfs "$dev"
install -d ${HOST_LAYOUT.dataMount}
if ! grep -q ' ${HOST_LAYOUT.dataMount} ' /etc/fstab; then
  echo "UUID=$(blkid -s UUID -o value "$dev") ${HOST_LAYOUT.dataMount} xfs defaults,noatime,nofail 0 2" >> /etc/fstab
fi
mount -a
install -d ${HOST_LAYOUT.pgdataOnHost}
${etcdDir}
${writes.join('\n\n')}

systemctl daemon-reload
systemctl enable --now --no-block ${units}
`;
}
