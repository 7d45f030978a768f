/*
 * text_decoder: the table of text decoders a model can name (see text_decoder.h).
 */
#include "model/text_decoder.h"

#include <string.h>

#include "mail/mail.h"

static const struct tab_text_decoder decoders[] = {
    {"mail", mail_decode_cell},
};

const struct tab_text_decoder *model_text_decoder_find(const char *name)
{
    for (size_t i = 0; i < sizeof decoders / sizeof decoders[0]; i++) {
        if (strcmp(decoders[i].name, name) == 0) {
            return &decoders[i];
        }
    }
    return NULL;
}

const struct tab_text_decoder *model_text_decoder_default(void)
{
    return &decoders[0];
}
