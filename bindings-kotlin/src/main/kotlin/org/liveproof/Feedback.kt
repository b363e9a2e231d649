// Per-frame feedback as a sealed class, and the replaceable English texts. Hand-written.

package org.liveproof

import java.io.InputStream
import java.io.InputStreamReader
import java.util.Locale
import java.util.MissingResourceException
import java.util.PropertyResourceBundle
import java.util.ResourceBundle
import org.liveproof.ffi.BoundingBox
import org.liveproof.ffi.FrameFeedback
import org.liveproof.ffi.Hint
import org.liveproof.ffi.Oval
import org.liveproof.ffi.Phase
import org.liveproof.ffi.UserPrompt

/**
 * What the capture UI should show after a frame: one case per phase, each with the capture's
 * [progress] (0..1), the [faceBox] and the [targetOval] (normalised to the upright frame) and the
 * quality [hints] (most important first). Codes, not text: [LiveProofTexts] turns them into
 * words.
 *
 * ```
 * when (val f = session.push(frame)) {
 *     is Feedback.Positioning -> showHint(f.topHint)
 *     is Feedback.HoldStill -> showPrompt(UserPrompt.HOLD_STILL, f.progress)
 *     is Feedback.Challenge -> showPrompt(f.prompt, f.step, f.of)
 *     is Feedback.Done -> stopCamera()
 * }
 * ```
 * Two feedbacks are equal when their [raw] records are.
 */
sealed class Feedback(
    /** The library's record, every field. */
    val raw: FrameFeedback,
) {
    /** Progress of the whole capture, 0..1. */
    val progress: Float get() = raw.progress

    /** Quality hints for this frame, most important first. */
    val hints: List<Hint> get() = raw.hints

    /** The hint to show now, or null when the frame is good. */
    val topHint: Hint? get() = raw.hints.firstOrNull()

    /** The face box, normalised to the upright frame; null without a face. */
    val faceBox: BoundingBox? get() = raw.faceBox

    /** Where the face should be, normalised. */
    val targetOval: Oval get() = raw.targetOval

    /** Whether the frame was used as evidence. */
    val used: Boolean get() = raw.used

    /** Getting the face into the oval: show [topHint]. */
    class Positioning internal constructor(raw: FrameFeedback) : Feedback(raw)

    /** The user holds still: the passive part, or between challenge steps. */
    class HoldStill internal constructor(raw: FrameFeedback) : Feedback(raw)

    /** A challenge step under way: ask for [prompt], step [step] of [of] (1-based). */
    class Challenge internal constructor(raw: FrameFeedback) : Feedback(raw) {
        val prompt: UserPrompt get() = raw.prompt
        val step: Int get() = raw.stepIndex.toInt() + 1
        val of: Int get() = raw.stepCount.toInt()
    }

    /** Enough evidence: stop the camera and call [LivenessSession.finish]. */
    class Done internal constructor(raw: FrameFeedback) : Feedback(raw)

    override fun equals(other: Any?): Boolean =
        other is Feedback && other.javaClass == javaClass && other.raw == raw

    override fun hashCode(): Int = raw.hashCode()

    override fun toString(): String = "${javaClass.simpleName}($raw)"

    companion object {
        /**
         * The case for [raw]: its phase, and within the challenge phase its prompt (a gesture
         * is a [Challenge]; holding still between gestures, a [HoldStill]).
         */
        @JvmStatic
        fun of(raw: FrameFeedback): Feedback = when (raw.phase) {
            Phase.POSITIONING -> Positioning(raw)
            Phase.DONE -> Done(raw)
            Phase.PASSIVE -> HoldStill(raw)
            Phase.CHALLENGE -> when (raw.prompt) {
                UserPrompt.NONE, UserPrompt.HOLD_STILL -> HoldStill(raw)
                UserPrompt.BLINK, UserPrompt.TURN_LEFT, UserPrompt.TURN_RIGHT, UserPrompt.NOD, UserPrompt.SMILE -> Challenge(raw)
            }
        }
    }
}

/**
 * The words for hints and prompts, from a [ResourceBundle]. The library ships English defaults
 * in `org/liveproof/LiveProofTexts.properties` (keys `hint.<name>`, `prompt.<name>`,
 * `feedback.done`, `feedback.ready`, names in lower case as in `hint.too_dark`). An app
 * localises or rewords them by adding `org/liveproof/LiveProofTexts_<lang>.properties` to its
 * own resources (picked by [forLocale]), or by passing any bundle ([LiveProofTexts] of
 * `ResourceBundle`) or a `.properties` stream ([fromProperties]); a key the replacement lacks
 * falls back to English.
 */
class LiveProofTexts(private val bundle: ResourceBundle) {
    /** The text for [hint], e.g. "Find more light" for [Hint.TOO_DARK]. */
    fun hint(hint: Hint): String = text("hint." + hint.name.lowercase(Locale.ROOT))

    /** The text for [prompt], e.g. "Turn your head to the left" for [UserPrompt.TURN_LEFT]. */
    fun prompt(prompt: UserPrompt): String = text("prompt." + prompt.name.lowercase(Locale.ROOT))

    /**
     * The one line to show for [feedback]: the top hint while positioning (or "ready"), the
     * prompt during the passive part and the challenge (a hint first when the frame has one),
     * "done" at the end.
     */
    fun message(feedback: Feedback): String = when (feedback) {
        is Feedback.Positioning -> feedback.topHint?.let(::hint) ?: text("feedback.ready")
        is Feedback.HoldStill -> feedback.topHint?.let(::hint) ?: prompt(UserPrompt.HOLD_STILL)
        is Feedback.Challenge -> feedback.topHint?.let(::hint) ?: prompt(feedback.prompt)
        is Feedback.Done -> text("feedback.done")
    }

    private fun text(key: String): String =
        try {
            bundle.getString(key)
        } catch (e: MissingResourceException) {
            if (bundle === english) throw e else english.getString(key)
        }

    companion object {
        /** The bundle's base name: `org/liveproof/LiveProofTexts[_lang].properties`. */
        const val BUNDLE: String = "org.liveproof.LiveProofTexts"

        private val NO_FALLBACK = ResourceBundle.Control.getNoFallbackControl(ResourceBundle.Control.FORMAT_PROPERTIES)

        private val english: ResourceBundle by lazy {
            ResourceBundle.getBundle(BUNDLE, Locale.ROOT, LiveProofTexts::class.java.classLoader, NO_FALLBACK)
        }

        /** The shipped English texts, the default. */
        @JvmStatic
        val default: LiveProofTexts by lazy { LiveProofTexts(english) }

        /**
         * The texts for [locale] from `org/liveproof/LiveProofTexts_<locale>.properties` found by
         * [loader] (the app's class loader), else English.
         */
        @JvmStatic
        @JvmOverloads
        fun forLocale(locale: Locale, loader: ClassLoader = LiveProofTexts::class.java.classLoader): LiveProofTexts =
            LiveProofTexts(ResourceBundle.getBundle(BUNDLE, locale, loader, NO_FALLBACK))

        /** Texts from a `.properties` stream (UTF-8); missing keys fall back to English. */
        @JvmStatic
        fun fromProperties(stream: InputStream): LiveProofTexts =
            LiveProofTexts(PropertyResourceBundle(InputStreamReader(stream, Charsets.UTF_8)))
    }
}
