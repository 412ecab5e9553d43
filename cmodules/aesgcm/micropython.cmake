# `aesgcm` as a user C module for CMake-based ports (esp32):
#   make USER_C_MODULES=<repo>/cmodules/micropython.cmake
add_library(usermod_aesgcm INTERFACE)

target_sources(usermod_aesgcm INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/gcm.c
    ${CMAKE_CURRENT_LIST_DIR}/modaesgcm.c
)

target_include_directories(usermod_aesgcm INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_aesgcm)
