/* SPDX-License-Identifier: MIT */
/* Hotkey names and device match rules (router.h): what configuration files name. */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/input-event-codes.h>

#include "input/router.h"

struct key_name {
	const char *name;
	uint32_t code;
};

static const struct key_name mod_names[] = {
    {"ctrl", VD_MOD_CTRL}, {"control", VD_MOD_CTRL}, {"alt", VD_MOD_ALT},  {"shift", VD_MOD_SHIFT},
    {"meta", VD_MOD_META}, {"super", VD_MOD_META},   {"win", VD_MOD_META},
};

static const struct key_name key_names[] = {
    {"esc", KEY_ESC},	    {"escape", KEY_ESC},
    {"tab", KEY_TAB},	    {"space", KEY_SPACE},
    {"enter", KEY_ENTER},   {"backspace", KEY_BACKSPACE},
    {"pause", KEY_PAUSE},   {"scrolllock", KEY_SCROLLLOCK},
    {"print", KEY_SYSRQ},   {"sysrq", KEY_SYSRQ},
    {"insert", KEY_INSERT}, {"delete", KEY_DELETE},
    {"home", KEY_HOME},	    {"end", KEY_END},
    {"pageup", KEY_PAGEUP}, {"pagedown", KEY_PAGEDOWN},
    {"left", KEY_LEFT},	    {"right", KEY_RIGHT},
    {"up", KEY_UP},	    {"down", KEY_DOWN},
    {"menu", KEY_COMPOSE},  {"grave", KEY_GRAVE},
};

/* Letters and digits in keyboard order: their codes are not contiguous. */
static const char letters[] = "qwertyuiopasdfghjklzxcvbnm";
static const uint32_t letter_codes[] = {
    KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P, KEY_A, KEY_S, KEY_D,
    KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L, KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M};
static const uint32_t fkey_codes[] = {KEY_F1,  KEY_F2,	KEY_F3,	 KEY_F4,  KEY_F5,  KEY_F6,
				      KEY_F7,  KEY_F8,	KEY_F9,	 KEY_F10, KEY_F11, KEY_F12,
				      KEY_F13, KEY_F14, KEY_F15, KEY_F16, KEY_F17, KEY_F18,
				      KEY_F19, KEY_F20, KEY_F21, KEY_F22, KEY_F23, KEY_F24};

static int key_code(const char *w, size_t n, uint32_t *ret)
{
	char buf[16];
	const char *p;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] - 'A' + 'a' : w[i]);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
		if (!strcmp(buf, key_names[i].name))
			return *ret = key_names[i].code, 0;
	if (n == 1 && (p = strchr(letters, buf[0])) && buf[0])
		return *ret = letter_codes[p - letters], 0;
	if (n == 1 && buf[0] >= '0' && buf[0] <= '9')
		return *ret = buf[0] == '0' ? KEY_0 : KEY_1 + (uint32_t)(buf[0] - '1'), 0;
	if (buf[0] == 'f' && n <= 3) {
		char *end;
		long f = strtol(buf + 1, &end, 10);

		if (*end == '\0' && end != buf + 1 && f >= 1 && f <= 24)
			return *ret = fkey_codes[f - 1], 0;
	}
	return -EINVAL;
}

static int mod_bit(const char *w, size_t n, uint32_t *ret)
{
	for (size_t i = 0; i < sizeof(mod_names) / sizeof(mod_names[0]); i++)
		if (strlen(mod_names[i].name) == n && !strncasecmp(w, mod_names[i].name, n))
			return *ret = mod_names[i].code, 0;
	return -EINVAL;
}

int vd_hotkey_parse(const char *s, struct vd_hotkey *ret)
{
	struct vd_hotkey hk = {0, 0};

	if (!s[0]) {
		*ret = hk;
		return 0;
	}
	for (;;) {
		const char *plus = strchr(s, '+');
		size_t n = plus ? (size_t)(plus - s) : strlen(s);
		uint32_t bit;

		if (!plus)
			break;
		if (mod_bit(s, n, &bit) < 0 || (hk.mods & bit))
			return -EINVAL;
		hk.mods |= bit;
		s = plus + 1;
	}
	if (key_code(s, strlen(s), &hk.key) < 0)
		return -EINVAL;
	*ret = hk;
	return 0;
}

/* ---- device rules ---- */

static bool is_prop_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int vd_input_rule_check(const char *rule)
{
	const char *eq = strchr(rule, '=');

	if (rule[0] == '/')
		return 0;
	if (!eq || !eq[1])
		return -EINVAL;
	if ((size_t)(eq - rule) == 4 && !strncmp(rule, "name", 4))
		return 0;
	return is_prop_name(rule, (size_t)(eq - rule)) ? 0 : -EINVAL;
}

/* A path names the device node, directly or by a link (by-id, by-path). */
static bool match_path(const char *rule, const struct vd_input_device *dev)
{
	char real[PATH_MAX];

	if (!dev->devnode)
		return false;
	if (!strcmp(rule, dev->devnode))
		return true;
	return realpath(rule, real) && !strcmp(real, dev->devnode);
}

bool vd_input_rule_match(const char *rule, const struct vd_input_device *dev)
{
	const char *eq = strchr(rule, '=');
	char key[128];
	const char *val;

	if (rule[0] == '/')
		return match_path(rule, dev);
	if (!eq || (size_t)(eq - rule) >= sizeof(key))
		return false;
	if ((size_t)(eq - rule) == 4 && !strncmp(rule, "name", 4))
		return dev->name && fnmatch(eq + 1, dev->name, 0) == 0;
	memcpy(key, rule, (size_t)(eq - rule));
	key[eq - rule] = '\0';
	val = dev->property ? dev->property(dev, key) : NULL;
	return val && fnmatch(eq + 1, val, 0) == 0;
}
