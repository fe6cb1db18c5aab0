/*  Copyright (C) 2026 mod-tgcluster authors

    This program is free software: you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    This program is distributed in the hope that it will be useful,
    but WITHOUT ANY WARRANTY; without even the implied warranty of
    MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
    GNU General Public License for more details.

    You should have received a copy of the GNU General Public License
    along with this program.  If not, see <https://www.gnu.org/licenses/>.
 */

#include <string.h>

#include "module/probe_rfb.h"

/*! \brief What the next bytes are. */
enum {
	PH_VERSION = 0, /*!< The server's ProtocolVersion. */
	PH_REPLY,       /*!< The reply is due (SEND returned once). */
	PH_TYPE33,      /*!< 3.3: u32 security type. */
	PH_COUNT,       /*!< 3.7/3.8: u8 number of security types. */
	PH_TYPES,       /*!< 3.7/3.8: the security types. */
	PH_REASON_LEN,  /*!< u32 reason length. */
	PH_REASON,      /*!< The reason string. */
	PH_DONE,        /*!< Final status reached. */
};

/*! \brief Template of a version message: 'd' stands for a digit. */
static const char VERSION_TMPL[TGC_RFB_VERSION_LEN] = {
	'R', 'F', 'B', ' ', 'd', 'd', 'd', '.', 'd', 'd', 'd', '\n'
};

/*! \brief Replies by minor version. */
static const uint8_t REPLY_33[TGC_RFB_VERSION_LEN] = "RFB 003.003\n";
static const uint8_t REPLY_37[TGC_RFB_VERSION_LEN] = "RFB 003.007\n";
static const uint8_t REPLY_38[TGC_RFB_VERSION_LEN] = "RFB 003.008\n";

/*! \brief Tells whether byte \a c fits position \a pos of a version message. */
static bool version_byte_ok(size_t pos, uint8_t c)
{
	if (VERSION_TMPL[pos] == 'd') {
		return c >= '0' && c <= '9';
	}
	return c == (uint8_t)VERSION_TMPL[pos];
}

bool tgc_rfb_version_valid(const uint8_t *buf, size_t len)
{
	if (buf == NULL || len != TGC_RFB_VERSION_LEN) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!version_byte_ok(i, buf[i])) {
			return false;
		}
	}
	return true;
}

/*! \brief Three decimal digits at \a p. */
static unsigned digits3(const uint8_t *p)
{
	return (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
	       (unsigned)(p[2] - '0');
}

/*! \brief Chooses the minor version to answer; 0 if none fits. */
static uint8_t choose_minor(const uint8_t *banner)
{
	unsigned major = digits3(banner + 4);
	unsigned minor = digits3(banner + 8);

	if (major < 3) {
		return 0;
	}
	if (major > 3 || minor >= 8) {
		return 8;
	}
	return (minor == 7) ? 7 : 3;
}

/*! \brief Ends parsing with status \a st. */
static tgc_rfb_status_t finish(tgc_rfb_t *p, tgc_rfb_status_t st)
{
	p->phase = PH_DONE;
	p->status = st;
	return st;
}

/*! \brief Value of the big-endian word read. */
static uint32_t word_value(const tgc_rfb_t *p)
{
	return ((uint32_t)p->word[0] << 24) | ((uint32_t)p->word[1] << 16) |
	       ((uint32_t)p->word[2] << 8) | (uint32_t)p->word[3];
}

/*! \brief Ends the reason (all of what is kept is in). */
static tgc_rfb_status_t reason_done(tgc_rfb_t *p)
{
	p->reason[p->reason_len] = '\0';
	return finish(p, TGC_RFB_REFUSED);
}

/*! \brief The server announced a failure: its reason follows. */
static void start_reason(tgc_rfb_t *p)
{
	p->phase = PH_REASON_LEN;
	p->word_len = 0;
}

void tgc_rfb_init(tgc_rfb_t *p)
{
	memset(p, 0, sizeof(*p));
	p->phase = PH_VERSION;
	p->status = TGC_RFB_MORE;
}

tgc_rfb_status_t tgc_rfb_feed(tgc_rfb_t *p, const uint8_t *data, size_t len,
                              size_t *used)
{
	size_t i = 0;
	tgc_rfb_status_t st = TGC_RFB_MORE;

	if (p->phase == PH_REPLY) {
		/* The caller has sent the reply: the security part follows. */
		p->phase = (p->minor == 3) ? PH_TYPE33 : PH_COUNT;
		p->word_len = 0;
	}

	while (st == TGC_RFB_MORE && p->phase != PH_DONE) {
		if (p->phase == PH_REASON && p->left == 0) {
			st = reason_done(p);
			break;
		}
		if (i == len) {
			break;
		}
		uint8_t c = data[i++];

		switch (p->phase) {
		case PH_VERSION:
			if (!version_byte_ok(p->banner_len, c)) {
				st = finish(p, TGC_RFB_BAD_BANNER);
				break;
			}
			p->banner[p->banner_len++] = c;
			if (p->banner_len < TGC_RFB_VERSION_LEN) {
				break;
			}
			p->minor = choose_minor(p->banner);
			if (p->minor == 0) {
				st = finish(p, TGC_RFB_BAD_BANNER);
			} else {
				p->phase = PH_REPLY;
				st = TGC_RFB_SEND;
			}
			break;
		case PH_TYPE33:
			p->word[p->word_len++] = c;
			if (p->word_len < 4) {
				break;
			}
			if (word_value(p) == 0) {
				start_reason(p);
			} else {
				p->types = 1;
				st = finish(p, TGC_RFB_OFFERED);
			}
			break;
		case PH_COUNT:
			if (c == 0) {
				start_reason(p);
			} else {
				p->phase = PH_TYPES;
				p->left = c;
			}
			break;
		case PH_TYPES:
			if (c != 0) {
				p->types++;
			}
			if (--p->left > 0) {
				break;
			}
			/* Type 0 is "Invalid": a list of nothing else offers
			 * nothing a client could choose. */
			st = finish(p, (p->types > 0) ? TGC_RFB_OFFERED :
			                                TGC_RFB_BAD);
			break;
		case PH_REASON_LEN:
			p->word[p->word_len++] = c;
			if (p->word_len < 4) {
				break;
			}
			p->reason_total = word_value(p);
			p->left = (p->reason_total < TGC_RFB_REASON_MAX) ?
			          p->reason_total : TGC_RFB_REASON_MAX;
			p->phase = PH_REASON;
			break;
		case PH_REASON:
			/* Kept for a log line: printable ASCII only. */
			p->reason[p->reason_len++] = (c >= 0x20 && c < 0x7f) ?
			                             (char)c : '?';
			p->left--;
			break;
		default:
			st = finish(p, TGC_RFB_BAD);
			break;
		}
	}

	if (used != NULL) {
		*used = i;
	}
	if (p->phase == PH_DONE) {
		return p->status;
	}
	return st;
}

tgc_rfb_status_t tgc_rfb_eof(tgc_rfb_t *p)
{
	switch (p->phase) {
	case PH_DONE:
		return p->status;
	case PH_VERSION:
		return finish(p, TGC_RFB_BAD_BANNER);
	case PH_REASON:
		return reason_done(p);
	default:
		return finish(p, TGC_RFB_BAD);
	}
}

const uint8_t *tgc_rfb_reply(const tgc_rfb_t *p)
{
	switch (p->minor) {
	case 3:  return REPLY_33;
	case 7:  return REPLY_37;
	case 8:  return REPLY_38;
	default: return NULL;
	}
}
