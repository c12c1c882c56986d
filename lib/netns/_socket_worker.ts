/**
 * The worker of `socketOnThrowawayThread` (`socket_thread.ts`): enters
 * the network namespace behind the fd it is given, makes one socket there,
 * and writes the outcome into shared memory, where the creating thread
 * waits for it synchronously. The creator then terminates this thread, the
 * only one ever in that namespace.
 *
 * @module
 */

import { bindLibcSymbols } from "../../ffi/libc.ts";
import { socket } from "../../ffi/socket.ts";
import { CLONE, setns } from "../../ffi/syscalls.ts";
import { SyscallError } from "../errors.ts";
import { workerScope } from "../worker.ts";
import {
  SOCKET_CELL,
  SOCKET_STEP,
  type SocketRequest,
} from "./socket_thread.ts";

function answer(
  cell: Int32Array,
  fd: number,
  errno: number,
  step: number,
): void {
  cell[SOCKET_CELL.FD] = fd;
  cell[SOCKET_CELL.ERRNO] = errno;
  cell[SOCKET_CELL.STEP] = step;
  Atomics.store(cell, SOCKET_CELL.DONE, 1);
  Atomics.notify(cell, SOCKET_CELL.DONE);
}

function errnoOf(error: unknown): number {
  if (error instanceof SyscallError) return error.errno;
  throw error;
}

const scope = workerScope<SocketRequest, never>();

scope.onmessage = ({ data }): void => {
  const cell = new Int32Array(data.shared);
  bindLibcSymbols(["setns", "socket"]); // one dlopen for both
  try {
    setns(data.nsFd, CLONE.NEWNET);
  } catch (error) {
    return answer(cell, -1, errnoOf(error), SOCKET_STEP.SETNS);
  }
  try {
    answer(cell, socket(data.domain, data.type, data.protocol), 0, 0);
  } catch (error) {
    answer(cell, -1, errnoOf(error), SOCKET_STEP.SOCKET);
  }
};
