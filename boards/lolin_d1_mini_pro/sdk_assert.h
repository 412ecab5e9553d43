// assert.h for MicroPython's ESP8266 port compiled against picolibc's headers (Debian's
// picolibc-xtensa-lx106-elf): picolibc's own assert.h declares an __assert that clashes
// with the one the port's main.c defines, so this one declares only what assert() uses,
// __assert_func, which the port defines in esp_mphal.c.  tools/esp8266_sdk.sh puts it
// into the assembled SDK's include directory, searched before picolibc's.
#ifndef SMARTYREADER_SDK_ASSERT_H
#define SMARTYREADER_SDK_ASSERT_H

#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
void __assert_func(const char *file, int line, const char *func, const char *expr);
#define assert(e) ((e) ? (void)0 : __assert_func(__FILE__, __LINE__, __func__, #e))
#endif

#endif
