/* SPDX-License-Identifier: MIT */
/* Hotkey names and device rules: what configuration files can say. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>
#include <linux/input-event-codes.h>

#include "input/router.h"
#include "input/source.h"

static void hotkeys(void **state)
{
	struct vd_hotkey hk;

	assert_int_equal(vd_hotkey_parse("ctrl+alt+f1", &hk), 0);
	assert_int_equal(hk.mods, VD_MOD_CTRL | VD_MOD_ALT);
	assert_int_equal(hk.key, KEY_F1);
	assert_int_equal(vd_hotkey_parse("Meta+F12", &hk), 0);
	assert_int_equal(hk.mods, VD_MOD_META);
	assert_int_equal(hk.key, KEY_F12);
	assert_int_equal(vd_hotkey_parse("scrolllock", &hk), 0);
	assert_int_equal(hk.mods, 0);
	assert_int_equal(hk.key, KEY_SCROLLLOCK);
	assert_int_equal(vd_hotkey_parse("shift+super+q", &hk), 0);
	assert_int_equal(hk.mods, VD_MOD_SHIFT | VD_MOD_META);
	assert_int_equal(hk.key, KEY_Q);
	assert_int_equal(vd_hotkey_parse("ctrl+0", &hk), 0);
	assert_int_equal(hk.key, KEY_0);
	assert_int_equal(vd_hotkey_parse("ctrl+9", &hk), 0);
	assert_int_equal(hk.key, KEY_9);
	assert_int_equal(vd_hotkey_parse("f24", &hk), 0);
	assert_int_equal(hk.key, KEY_F24);
	assert_int_equal(vd_hotkey_parse("", &hk), 0);
	assert_int_equal(hk.key, 0);
	static const char *const bad[] = {"ctrl",     "ctrl+", "+f1",	  "ctrl+ctrl+f1",
					  "f0",	      "f25",   "f1x",	  "hyper+f1",
					  "ctrl+alt", "qq",    "ctrl++f1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vd_hotkey_parse(bad[i], &hk), -EINVAL);
}

static const char *prop(const struct vd_input_device *dev, const char *key)
{
	return !strcmp(key, "ID_PATH") ? "pci-0000:00:14.0-usb-0:2:1.0" : NULL;
}

static void rules(void **state)
{
	struct vd_input_device dev = {
	    .name = "Logitech USB Keyboard", .devnode = "/dev/input/event7", .property = prop};
	struct vd_input_device bare = {.name = "bare"};

	assert_int_equal(vd_input_rule_check("/dev/input/event7"), 0);
	assert_int_equal(vd_input_rule_check("name=Logi*"), 0);
	assert_int_equal(vd_input_rule_check("ID_PATH=pci-*"), 0);
	assert_int_equal(vd_input_rule_check("event7"), -EINVAL);
	assert_int_equal(vd_input_rule_check("id_path=x"), -EINVAL);
	assert_int_equal(vd_input_rule_check("ID_PATH="), -EINVAL);
	assert_int_equal(vd_input_rule_check("=x"), -EINVAL);

	assert_true(vd_input_rule_match("/dev/input/event7", &dev));
	assert_false(vd_input_rule_match("/dev/input/event8", &dev));
	assert_true(vd_input_rule_match("name=Logitech*", &dev));
	assert_false(vd_input_rule_match("name=Logitech", &dev));
	assert_true(vd_input_rule_match("ID_PATH=pci-0000:00:14.0-usb-0:2:*", &dev));
	assert_false(vd_input_rule_match("ID_PATH=pci-0000:00:14.0-usb-0:1:*", &dev));
	assert_false(vd_input_rule_match("ID_SERIAL=*", &dev)); /* no such property */
	assert_false(vd_input_rule_match("ID_PATH=*", &bare));	/* no properties at all */
	assert_false(vd_input_rule_match("/dev/input/event7", &bare));
}

/* What libinput says reaches the log at the level an operator should see. */
static void libinput_levels(void **state)
{
	(void)state;
	/* LIBINPUT_LOG_PRIORITY_DEBUG 10, INFO 20, ERROR 30 */
	assert_int_equal(vd_input_libinput_log_level(30, "event3 - kbd: kernel bug: ..."),
			 LOG_WARNING);
	assert_int_equal(vd_input_libinput_log_level(30, "event2  - vdtest mouse: client bug: "
							 "event processing lagging behind by 25ms, "
							 "your system is too slow"),
			 LOG_NOTICE);
	assert_int_equal(vd_input_libinput_log_level(20, "event processing lagging behind"),
			 LOG_DEBUG);
	assert_int_equal(vd_input_libinput_log_level(10, "anything"), LOG_DEBUG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hotkeys),
	    cmocka_unit_test(rules),
	    cmocka_unit_test(libinput_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
