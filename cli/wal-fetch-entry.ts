/**
 * Entry point of `walwatch wal-fetch` alone, for the single-file bundle a restore drill builds: PostgreSQL
 * runs `restore_command` once per WAL file, so it must start in a fraction of a second.
 */
import { run } from './wal-fetch.js';

// The SDK, loaded for S3 only, warns on every start that future releases need Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await run(process.argv.slice(2));
