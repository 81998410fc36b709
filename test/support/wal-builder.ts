/** The smallest sound WAL segments for tests: the builder `walwatch sample` uses (see its module). */
export {
  buildCommitSegment,
  buildSwitchSegment,
  SWITCH_RECORD_INFO_OFFSET,
} from '../../shared/sample/wal-segment.js';
