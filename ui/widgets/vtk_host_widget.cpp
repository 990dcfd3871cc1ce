#include "ui/widgets/vtk_host_widget.h"

#include <QOpenGLContext>
#include <QOpenGLExtraFunctions>

#include <vtkCallbackCommand.h>
#include <vtkCommand.h>
#include <vtkOpenGLFramebufferObject.h>
#include <vtkOpenGLState.h>
#include <vtkRendererCollection.h>

namespace tessera::ui {

QSurfaceFormat VtkHostWidget::surfaceFormat() {
  QSurfaceFormat format;
  format.setRenderableType(QSurfaceFormat::OpenGL);
  format.setVersion(3, 2);
  format.setProfile(QSurfaceFormat::CoreProfile);
  format.setDepthBufferSize(24);
  format.setStencilBufferSize(8);
  format.setRedBufferSize(8);
  format.setGreenBufferSize(8);
  format.setBlueBufferSize(8);
  format.setAlphaBufferSize(8);
  format.setSamples(0);
  return format;
}

void VtkHostWidget::setDefaultSurfaceFormat() {
  QSurfaceFormat::setDefaultFormat(surfaceFormat());
}

VtkHostWidget::VtkHostWidget(QWidget* parent)
    : QOpenGLWidget(parent), window_(vtkSmartPointer<vtkGenericOpenGLRenderWindow>::New()) {
  setFormat(surfaceFormat());
  window_->SetMultiSamples(0);
  window_->SetAlphaBitPlanes(1);
  window_->SetReadyForRendering(false);
  // VTK asks for the context outside paintGL (e.g. to free textures): make
  // this widget's context current and answer whether it is. Not during
  // paintGL: QOpenGLWidget::makeCurrent() rebinds the widget's framebuffer
  // behind VTK's state cache, and VTK would then attach its own buffers to
  // Qt's framebuffer.
  auto makeCurrent = vtkSmartPointer<vtkCallbackCommand>::New();
  makeCurrent->SetClientData(this);
  makeCurrent->SetCallback([](vtkObject*, unsigned long, void* client, void*) {
    auto* self = static_cast<VtkHostWidget*>(client);
    if (!self->inPaint_) self->makeCurrent();
  });
  window_->AddObserver(vtkCommand::WindowMakeCurrentEvent, makeCurrent);
  auto isCurrent = vtkSmartPointer<vtkCallbackCommand>::New();
  isCurrent->SetClientData(this);
  isCurrent->SetCallback([](vtkObject*, unsigned long, void* client, void* callData) {
    auto* self = static_cast<VtkHostWidget*>(client);
    *static_cast<bool*>(callData) =
        self->context() != nullptr && QOpenGLContext::currentContext() == self->context();
  });
  window_->AddObserver(vtkCommand::WindowIsCurrentEvent, isCurrent);
}

VtkHostWidget::~VtkHostWidget() {
  releaseGraphics();
}

void VtkHostWidget::releaseGraphics() {
  if (!glReady_) return;
  // The context must be current while VTK frees its OpenGL resources.
  makeCurrent();
  window_->SetIsCurrent(true);
  vtkRendererCollection* renderers = window_->GetRenderers();
  renderers->InitTraversal();
  while (vtkRenderer* renderer = renderers->GetNextItem())
    renderer->ReleaseGraphicsResources(window_);
  window_->ReleaseGraphicsResources(window_);
  window_->SetIsCurrent(false);
  doneCurrent();
  glReady_ = false;
}

void VtkHostWidget::initializeGL() {
  // A new context (first show, or the widget moved to another window):
  // whatever VTK held belongs to the old one.
  if (glReady_) window_->ReleaseGraphicsResources(window_);
  if (!contextConnection_)
    contextConnection_ = connect(context(), &QOpenGLContext::aboutToBeDestroyed, this,
                                 [this] { releaseGraphics(); });
  window_->SetOwnContext(false);
  window_->SetIsCurrent(true);
  window_->SetMapped(1);
  window_->SetIsDirect(1);
  window_->SetSupportsOpenGL(1);
  window_->SetForceMaximumHardwareLineWidth(1);
  window_->SetFrameBlitModeToNoBlit();
  window_->OpenGLInitContext();
  const qreal ratio = devicePixelRatioF();
  window_->SetSize(int(width() * ratio), int(height() * ratio));
  glReady_ = true;
}

void VtkHostWidget::resizeGL(int width, int height) {
  const qreal ratio = devicePixelRatioF();
  window_->SetSize(int(width * ratio), int(height * ratio));
}

void VtkHostWidget::paintGL() {
  if (!glReady_) return;
  // Qt bound its own framebuffer for this widget and changed GL state behind
  // VTK's back: make VTK re-read its state cache before rendering.
  inPaint_ = true;
  QOpenGLExtraFunctions* f = context()->extraFunctions();
  vtkOpenGLState* state = window_->GetState();
  state->Reset();
  state->Push();
  state->vtkglDepthFunc(GL_LEQUAL);  // Qt leaves GL_LESS; VTK expects LEQUAL
  window_->SetReadyForRendering(true);
  window_->SetIsCurrent(true);
  window_->Render();
  window_->SetReadyForRendering(false);
  state->Pop();
  inPaint_ = false;

  // VTK rendered into its own display framebuffer; copy it into the widget's
  // framebuffer ourselves, which does not depend on what VTK believes is bound.
  vtkOpenGLFramebufferObject* display = window_->GetDisplayFramebuffer();
  if (!display) return;
  const int* size = window_->GetSize();
  const GLuint target = defaultFramebufferObject();
  f->glBindFramebuffer(GL_READ_FRAMEBUFFER, display->GetFBOIndex());
  f->glReadBuffer(GL_COLOR_ATTACHMENT0);
  f->glBindFramebuffer(GL_DRAW_FRAMEBUFFER, target);
  f->glDisable(GL_SCISSOR_TEST);
  f->glBlitFramebuffer(0, 0, size[0], size[1], 0, 0, size[0], size[1], GL_COLOR_BUFFER_BIT,
                       GL_NEAREST);
  // Opaque alpha, or the window compositor blends the view with what is behind.
  f->glBindFramebuffer(GL_FRAMEBUFFER, target);
  f->glColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_TRUE);
  f->glClearColor(0.f, 0.f, 0.f, 1.f);
  f->glClear(GL_COLOR_BUFFER_BIT);
  f->glColorMask(GL_TRUE, GL_TRUE, GL_TRUE, GL_TRUE);
  state->Reset();
}

}  // namespace tessera::ui
