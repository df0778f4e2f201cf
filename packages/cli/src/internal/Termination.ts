/**
 * How the process ends after SIGTERM or SIGINT. The runtime interrupts the command on either
 * signal (a leader rolls back its migration in flight and releases the fence and the Lease);
 * this module remembers which signal it was, so the exit code can say so, and lets services
 * (`daemon`, `apiserver`) declare that being stopped is their normal end.
 *
 * A second signal while the first is being handled ends the process at once (an impatient
 * Ctrl-C, or a supervisor that does not wait).
 */
import * as Effect from "effect/Effect"

let received: NodeJS.Signals | undefined
let stopIsSuccess = false

/** `128 + signal number`, the shell's convention for a process ended by a signal. */
const signalExitCodes: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 }

/** Installs the listeners that record SIGTERM and SIGINT (call once, before running the command). */
export const watchSignals = (): void => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (received !== undefined) process.exit(interruptionExitCode())
      received = signal
    })
  }
}

/** The signal that stopped the command, if one did. */
export const receivedSignal = (): NodeJS.Signals | undefined => received

/** Declares that this command's normal end is being stopped by a signal: it then exits 0. */
export const stopIsNormal: Effect.Effect<void> = Effect.sync(() => {
  stopIsSuccess = true
})

/**
 * The exit code of a command that was interrupted: 0 for a service stopped by a signal,
 * otherwise 143 after SIGTERM and 130 after SIGINT (143 when no signal was seen).
 */
export const interruptionExitCode = (): number =>
  stopIsSuccess ? 0 : signalExitCodes[received ?? "SIGTERM"] ?? 143
