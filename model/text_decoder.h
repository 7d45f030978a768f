/*
 * text_decoder: the text decoders a model can name, and the one place that wires mail/ into
 * tab/ (tab/ defines struct tab_text_decoder, mail/ provides the function, neither knows the
 * other). Today there is one, "mail": a raw RFC 822 message becomes "subject\n\nbody", any
 * other text is read as it is. A model's text inputs are given it when the model is trained;
 * a loaded model names its decoder, looked up here.
 * Thread-safety: the table is constant; the decoders are thread-safe and need no set-up.
 */
#ifndef NEUROND_MODEL_TEXT_DECODER_H
#define NEUROND_MODEL_TEXT_DECODER_H

#include "tab/features.h"

/** The decoder of the given stored name, or NULL when none has it. Borrowed (static). */
const struct tab_text_decoder *model_text_decoder_find(const char *name);

/** The decoder a model's text inputs get at training: "mail". Borrowed (static). */
const struct tab_text_decoder *model_text_decoder_default(void);

#endif
