// Entry point of the widget tests: real Qt widgets and VTK rendering need a
// QApplication and a display. CI runs ctest under
// xvfb-run -a -s "-screen 0 1280x1024x24 -noreset"; without any display every test
// is skipped with that reason (listing the tests needs no display).
#include <gtest/gtest.h>

#include <QDir>
#include <QSettings>
#include <QStandardPaths>

#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "ui/widgets/application.h"
#include "ui/widgets/vtk_host_widget.h"
#include "widget_test_support.h"

namespace tessera::ui::testing {
bool displayAvailable = false;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (::testing::GTEST_FLAG(list_tests)) return RUN_ALL_TESTS();
  const char* display = std::getenv("DISPLAY");
  const char* platform = std::getenv("QT_QPA_PLATFORM");
  tessera::ui::testing::displayAvailable = (display && *display) || (platform && *platform);
  if (!tessera::ui::testing::displayAvailable) return RUN_ALL_TESTS();

  // Recent files and other settings go to a throw-away place, not the
  // user's configuration.
  QStandardPaths::setTestModeEnabled(true);
  QSettings::setDefaultFormat(QSettings::IniFormat);
  const QString settingsDir =
      QDir::temp().filePath(QString("tessera_widget_tests_settings_%1").arg(::getpid()));
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir);

  // Autosaved work goes to a throw-away folder too, unless a test that
  // starts this binary as a child names one.
  const QString recoveryDir =
      QDir::temp().filePath(QString("tessera_widget_tests_recovery_%1").arg(::getpid()));
  const bool ownRecoveryDir = !std::getenv("TESSERA_RECOVERY_DIR");
  if (ownRecoveryDir) setenv("TESSERA_RECOVERY_DIR", recoveryDir.toLocal8Bit().constData(), 1);

  tessera::ui::VtkHostWidget::setDefaultSurfaceFormat();
  tessera::ui::WorkstationApplication app(argc, argv);
  app.setOrganizationName("TesseraTests");
  tessera::ui::applyDarkTheme(app);
  const int result = RUN_ALL_TESTS();
  QDir(settingsDir).removeRecursively();
  if (ownRecoveryDir) QDir(recoveryDir).removeRecursively();
  return result;
}
