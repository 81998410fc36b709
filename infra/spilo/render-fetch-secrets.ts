import { ETCD_TLS_FILES, HOST_LAYOUT } from './host-layout.js';

/** Secrets Manager secrets a Spilo node reads at start. Values may be CDK tokens. */
export interface NodeSecretsInput {
  /** AWS region of the secrets. */
  readonly region: string;
  /** ARN or name of the etcd TLS secret: a JSON object with PEM strings `ca`, `cert` and `key`. */
  readonly etcdTlsSecretArn: string;
  /** ARN of the plain-text password of the `postgres` superuser. */
  readonly superuserPasswordSecretArn: string;
  /** ARN of the plain-text password of the `standby` replication user. */
  readonly replicationPasswordSecretArn: string;
  /** ARN of the plain-text password of the `admin` role. */
  readonly adminPasswordSecretArn: string;
}

/** Quotes a word for bash with single quotes. */
export function quoteShell(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Renders the script that runs before each start of the Spilo (and etcd) unit. It reads the etcd TLS
 * material and the three passwords from Secrets Manager and writes them to tmpfs only, readable by
 * the container's `postgres` user (whose uid it reads from the image once), so no secret is ever in
 * the user data, in the unit file or on disk. Runs again on every restart, so a rotated secret is
 * picked up by restarting the unit.
 */
export function renderFetchSecretsScript(input: NodeSecretsInput): string {
  const dir = HOST_LAYOUT.runtimeSecretsDir;
  const tlsDir = HOST_LAYOUT.etcdTlsOnHost;
  const files = [ETCD_TLS_FILES.ca, ETCD_TLS_FILES.cert, ETCD_TLS_FILES.key];
  return `#!/bin/bash
# Fetches the etcd TLS material and the PostgreSQL passwords onto tmpfs before Spilo or etcd starts.
set -euo pipefail
umask 077
image="$1"
region=${quoteShell(input.region)}
fetch() {
  aws --region "$region" secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text
}
uid_file=${HOST_LAYOUT.dataMount}/.postgres-uid
if [ ! -s "$uid_file" ]; then
  podman run --rm --pull missing --entrypoint /usr/bin/id "$image" -u postgres > "$uid_file.tmp"
  mv "$uid_file.tmp" "$uid_file"
fi
pg_uid="$(cat "$uid_file")"
install -d -m 0711 ${dir}
install -d -m 0700 -o "$pg_uid" ${tlsDir}
tmp="$(mktemp -d ${dir}/.fetch.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
fetch ${quoteShell(input.etcdTlsSecretArn)} > "$tmp/tls.json"
python3 - "$tmp/tls.json" "$tmp" <<'PYTHON'
import json, sys
doc = json.load(open(sys.argv[1]))
for key, name in (('ca', '${ETCD_TLS_FILES.ca}'), ('cert', '${ETCD_TLS_FILES.cert}'), ('key', '${ETCD_TLS_FILES.key}')):
    if not doc.get(key):
        sys.exit('the etcd TLS secret has no "%s" entry' % key)
    with open(sys.argv[2] + '/' + name, 'w') as out:
        out.write(doc[key])
PYTHON
for f in ${files.join(' ')}; do
  install -m 0600 -o "$pg_uid" "$tmp/$f" "${tlsDir}/$f"
done
{
  printf 'PGPASSWORD_SUPERUSER=%s\\n' "$(fetch ${quoteShell(input.superuserPasswordSecretArn)})"
  printf 'PGPASSWORD_STANDBY=%s\\n' "$(fetch ${quoteShell(input.replicationPasswordSecretArn)})"
  printf 'PGPASSWORD_ADMIN=%s\\n' "$(fetch ${quoteShell(input.adminPasswordSecretArn)})"
} > "$tmp/secrets.env"
install -m 0600 "$tmp/secrets.env" ${HOST_LAYOUT.secretsEnvFile}
`;
}
