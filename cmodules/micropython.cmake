# The project's user C modules, for CMake-based ports (esp32).
include(${CMAKE_CURRENT_LIST_DIR}/aesgcm/micropython.cmake)
