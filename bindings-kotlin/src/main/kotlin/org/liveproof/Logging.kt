// The library's log, routed to a Kotlin callback. Hand-written.

package org.liveproof

import org.liveproof.ffi.LogLevel
import org.liveproof.ffi.LogSink
import org.liveproof.ffi.initLogging
import org.liveproof.ffi.setLogSink

/**
 * LiveProof's own log. Android's logcat (tag `liveproof`) and stderr elsewhere get it once
 * [init] ran; a [sink] receives the same lines. At [LogLevel.INFO] and above the library logs
 * session starts and decisions only: no face data, landmarks or scores (those are `DEBUG`).
 */
object LiveProofLog {
    /**
     * Sets the level (every call does; idempotent) and, when [sink] is given, routes every line
     * to it as well, from whichever thread logged (`null` keeps the current sink).
     */
    @JvmStatic
    @JvmOverloads
    fun init(level: LogLevel, sink: ((level: LogLevel, target: String, message: String) -> Unit)? = null) {
        initLogging(level)
        if (sink != null) {
            setLogSink(object : LogSink {
                override fun log(level: LogLevel, target: String, message: String) = sink(level, target, message)
            })
        }
    }

    /** Stops sending lines to the sink set by [init]. */
    @JvmStatic
    fun removeSink() = setLogSink(null)
}
